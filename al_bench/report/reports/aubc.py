"""``tables/aubc.csv``: the normalized area under each budget curve, per run and per strategy,
with the seed-paired gain over random.

The x axis is the number of labeled images at each budget point (``n_labeled`` of the run's
``curve.csv``), rescaled to [0, 1] by the run's first and last budget point:
``x = (n − n_first) / (n_last − n_first)``. The y axis is test accuracy. The area is the
trapezoid rule over those points, so AUBC is in accuracy units (the curve's average height
between the first and last budget point; Lüth et al. 2023, Lu et al. 2023; with ``--metric``,
the metric's curve and units, :mod:`..metric`) and strategies with
the same schedule are compared on the same axis.

Rows, per comparison group and strategy (sorted by strategy name):

- ``level = seed``: one per seed: ``seed``, ``n_points`` (budget points the run has), ``aubc``,
  ``random_aubc`` and ``gain`` (= aubc − random's aubc at the same seed). A run that lacks one of
  its group's budget points would be measured on another axis: its ``aubc`` is NaN.
- ``level = strategy``: then one summary row: ``aubc_mean``, ``aubc_std`` (ddof = 1) and
  ``n_seeds`` over the seeds with an AUBC; ``gain_mean``, ``gain_std``, ``gain_ci_low``,
  ``gain_ci_high`` (95 %, Student t) and ``p_value`` (two-sided paired t-test) over the
  ``n_pairs`` seeds that random also has. NaN with fewer than 2 pairs or no random in the group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, for_metric
from ..runs import with_identity
from ..stats import aubc as area
from ..stats import paired_t
from . import BASELINE, register

__all__ = ["aubc", "COLUMNS"]

COLUMNS = COMPARE_KEYS + ["strategy", "level", "seed", "n_points", "aubc", "random_aubc", "gain",
                          "aubc_mean", "aubc_std", "n_seeds", "gain_mean", "gain_std", "gain_ci_low",
                          "gain_ci_high", "p_value", "n_pairs"]


def _std(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else float("nan")


def run_areas(group: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """One comparison group's rows → one row per (strategy, seed): ``n_points`` and ``aubc`` of
    ``metric`` (NaN when the run misses one of the group's budget points)."""
    points = np.sort(group["budget"].unique())
    rows = []
    for (strategy, seed), run in group.groupby(["strategy", "seed"], sort=True):
        run = run.sort_values("budget")
        complete = len(run) == len(points) and np.array_equal(run["budget"].to_numpy(), points)
        rows.append({"strategy": strategy, "seed": seed, "n_points": len(run),
                     "aubc": area(run["n_labeled"], run[metric]) if complete else np.nan})
    return pd.DataFrame(rows, columns=["strategy", "seed", "n_points", "aubc"])


@register("aubc", kind="table", output="tables/aubc.csv", order=40)
def aubc(results: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """Area under the budget curve (labels rescaled to [0, 1]) per run and strategy; paired gain over random."""
    results = with_identity(results)
    rows = []
    for gk, g in results.groupby(COMPARE_KEYS, sort=True):
        group = dict(zip(COMPARE_KEYS, gk))
        runs = run_areas(g, metric)
        base = runs.loc[runs["strategy"] == BASELINE].set_index("seed")["aubc"]
        for strategy, s in runs.groupby("strategy", sort=True):
            rnd = s["seed"].map(base).to_numpy(dtype=np.float64)
            gains = s["aubc"].to_numpy(dtype=np.float64) - rnd
            for (_, r), ra, ga in zip(s.iterrows(), rnd, gains):
                rows.append({**group, "strategy": strategy, "level": "seed", "seed": int(r["seed"]),
                             "n_points": int(r["n_points"]), "aubc": r["aubc"], "random_aubc": ra, "gain": ga})
            values = s["aubc"].dropna().to_numpy(dtype=np.float64)
            test = paired_t(gains[np.isfinite(gains)])
            rows.append({**group, "strategy": strategy, "level": "strategy",
                         "aubc_mean": float(values.mean()) if len(values) else np.nan,
                         "aubc_std": _std(values), "n_seeds": int(len(values)),
                         "gain_mean": test.mean, "gain_std": test.std, "gain_ci_low": test.ci_low,
                         "gain_ci_high": test.ci_high, "p_value": test.p_value, "n_pairs": test.n})
    out = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("seed", "n_points", "n_seeds", "n_pairs"):
        out[col] = out[col].astype("Int64")  # integers, empty where the level has none
    return for_metric(out, metric)
