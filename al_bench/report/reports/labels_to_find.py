"""``tables/labels_to_find.csv``: how fast each strategy finds each class — the labels bought until
the first and the fifth item of the class were labeled (rare-class discovery), seed-paired with
random.

Read from every run's ``selected.csv`` (purchase order; :func:`..runs.read_purchases`), checked
against the ``labeled_<class>`` counts of its ``curve.csv``, whose order names the label codes.
A batch is labeled as a whole, so an item counts as found at the labels bought by the end of the
round that bought it; the initial set is round 0, so a class it holds is found at the initial
set's size. Only labels up to the run's last budget point count.

One row per comparison group, strategy, class (in label-code order) and ``nth`` (1, then 5):

- ``n_seeds``: runs with purchases; ``n_reached``: those that found the nth item within
  ``budget_labels`` (the labels bought by the last budget point, mean over the runs);
- ``labels_mean``, ``labels_std`` (ddof = 1): over the seeds, only when every seed reached it —
  a mean over the seeds that found it would flatter a strategy that rarely does — else NaN;
- ``saved_mean``, ``saved_ci_low``, ``saved_ci_high`` (95 %, Student t), ``p_value`` (two-sided
  paired t-test), ``n_pairs``: random's labels minus this strategy's at the same seed (positive:
  found with fewer labels), over the seeds where both found it; ``only_this_reached`` and
  ``only_random_reached`` count the seeds where one of the two found it and the other did not
  (left out of the difference, which they would move further than it says), and
  ``reach_p_value`` whether finding it at all differs from random: the two-sided exact sign
  (McNemar) test on those two counts (1 when both are 0). NaN and 0 without random in the group.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..runs import LABELED, with_identity
from ..stats import paired_t
from . import BASELINE, register

__all__ = ["labels_to_find", "found_at", "sign_test", "COLUMNS", "NTH"]

NTH = (1, 5)  # the items of a class whose discovery is counted: the first and the fifth
COLUMNS = COMPARE_KEYS + ["strategy", "class", "nth", "n_seeds", "n_reached", "budget_labels", "labels_mean",
                          "labels_std", "saved_mean", "saved_ci_low", "saved_ci_high", "p_value", "n_pairs",
                          "only_this_reached", "only_random_reached", "reach_p_value"]


def sign_test(b: int, c: int) -> float:
    """Two-sided exact sign test (McNemar's exact test) on ``b`` and ``c`` discordant pairs: the
    probability, with each pair equally likely either way, of a split at least this uneven; 1.0
    without discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))


def found_at(labels: np.ndarray, nth: int) -> float:
    """The labels bought when the ``nth`` item of a class was labeled, from the labels-bought
    values of its purchases in purchase order (k,); NaN when fewer than ``nth`` were bought."""
    return float(labels[nth - 1]) if len(labels) >= nth else float("nan")


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    if len(x) == 0 or not np.isfinite(x).all():
        return float("nan"), float("nan")
    return float(x.mean()), (float(x.std(ddof=1)) if len(x) > 1 else float("nan"))


@register("labels_to_find", kind="table", output="tables/labels_to_find.csv", order=80)
def labels_to_find(results: pd.DataFrame, purchases: pd.DataFrame | None = None) -> pd.DataFrame:
    """Labels bought until the first and fifth item of each class were labeled, per strategy; seed-paired vs random.

    ``purchases``: every run's ``selected.csv`` in long form (:func:`..runs.read_purchases`:
    ``run``, ``class``, ``labels`` in purchase order); runs it does not hold are left out, and
    without it the table is empty.
    """
    if purchases is None or purchases.empty:
        return pd.DataFrame(columns=COLUMNS)
    results = with_identity(results)
    classes_in_order = [c[len(LABELED):] for c in results.columns if c.startswith(LABELED)]
    bought = {run: p for run, p in purchases.groupby("run", sort=False)}
    runs = results.groupby("run", sort=True).agg(
        **{k: (k, "first") for k in COMPARE_KEYS + ["strategy", "seed"]}, last=("n_labeled", "max"))
    runs = runs[runs.index.isin(list(bought))]
    counted = [LABELED + c for c in classes_in_order]  # a run's classes: the labeled_ columns it fills
    held = results.set_index("run")[counted].notna().groupby(level=0).all()
    # per run, class and nth: the labels at which that item was found (NaN: not within the budget)
    found = []
    for run, r in runs.iterrows():
        p = bought[run]
        p = p[p["labels"] <= r["last"]]
        for c in [c for c in classes_in_order if held.at[run, LABELED + c]]:
            at = p.loc[p["class"] == c, "labels"].to_numpy(dtype=np.float64)
            for nth in NTH:
                found.append({**{k: r[k] for k in COMPARE_KEYS + ["strategy", "seed"]}, "last": r["last"],
                              "class": c, "nth": nth, "labels": found_at(at, nth)})
    if not found:
        return pd.DataFrame(columns=COLUMNS)
    found = pd.DataFrame(found)
    order = {c: k for k, c in enumerate(classes_in_order)}
    rows = []
    for gk, g in found.groupby(COMPARE_KEYS, sort=True):
        rnd = g[g["strategy"] == BASELINE].set_index(["class", "nth", "seed"])["labels"]
        for (strategy, c, nth), s in sorted(g.groupby(["strategy", "class", "nth"]),
                                            key=lambda kv: (kv[0][0], order[kv[0][1]], kv[0][2])):
            values = s["labels"].to_numpy(dtype=np.float64)
            mean, std = _mean_std(values)
            pairs = [(c, nth, seed) for seed in s["seed"]]
            has_pair = np.array([k in rnd.index for k in pairs], dtype=bool)
            theirs = np.array([rnd[k] if ok else np.nan for k, ok in zip(pairs, has_pair)], dtype=np.float64)
            mine_ok, theirs_ok = np.isfinite(values), np.isfinite(theirs)
            test = paired_t((theirs - values)[mine_ok & theirs_ok])
            rows.append({
                **dict(zip(COMPARE_KEYS, gk)), "strategy": strategy, "class": c, "nth": int(nth),
                "n_seeds": int(len(s)), "n_reached": int(mine_ok.sum()),
                "budget_labels": int(round(float(s["last"].mean()))), "labels_mean": mean, "labels_std": std,
                "saved_mean": test.mean, "saved_ci_low": test.ci_low, "saved_ci_high": test.ci_high,
                "p_value": test.p_value, "n_pairs": test.n,
                "only_this_reached": int((has_pair & mine_ok & ~theirs_ok).sum()),
                "only_random_reached": int((has_pair & ~mine_ok & theirs_ok).sum()),
            })
            rows[-1]["reach_p_value"] = sign_test(rows[-1]["only_this_reached"], rows[-1]["only_random_reached"])
    return pd.DataFrame(rows, columns=COLUMNS)
