"""``tables/budget_gains.csv``: accuracy gain over random at each budget point, paired by seed,
with its 95 % Student-t interval and the two-sided paired t-test (:mod:`..stats`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, for_metric
from ..runs import with_identity
from ..stats import paired_t
from . import BASELINE, register

__all__ = ["budget_gains", "COLUMNS"]

COLUMNS = COMPARE_KEYS + ["strategy", "budget", "n_labeled", "accuracy_mean", "accuracy_std", "random_mean",
                          "gain_mean", "gain_std", "n_seeds", "n_paired", "gain_ci_low", "gain_ci_high", "p_value",
                          "n_pairs"]


def _std(x: pd.Series) -> float:
    return float(x.std(ddof=1)) if len(x) > 1 else float("nan")


@register("budget_gains", kind="table", output="tables/budget_gains.csv", order=10)
def budget_gains(results: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """Seed-paired gain over random at every budget point, with its 95 % CI and paired t-test p-value.

    For each seed, gain = accuracy(strategy) − accuracy(random) at the same seed and budget
    point (same split and initial set, so the comparison is paired); then mean and std
    (ddof=1) over the paired seeds. ``accuracy_*`` summarise all seeds of the strategy.
    ``gain_ci_low``/``gain_ci_high`` are the 95 % Student-t interval of the mean gain and
    ``p_value`` the two-sided paired t-test over the ``n_pairs`` (= ``n_paired``) differences;
    NaN with fewer than 2 pairs or without random in the comparison group. ``metric``: the
    column compared (:mod:`..metric`; ``accuracy_*`` are then named after it).
    """
    results = with_identity(results)
    keys = COMPARE_KEYS + ["budget"]
    base = results.loc[results["strategy"] == BASELINE, keys + ["seed", metric]]
    base = base.rename(columns={metric: "random_value"})
    paired = results.merge(base, on=keys + ["seed"], how="left")
    paired["gain"] = paired[metric] - paired["random_value"]
    rows = []
    for k, g in paired.groupby(keys + ["strategy"], sort=True):
        ok = g.dropna(subset=["gain"])
        test = paired_t(ok["gain"].to_numpy())
        rows.append({
            **dict(zip(keys + ["strategy"], k)),
            "n_labeled": int(round(g["n_labeled"].mean())),
            "accuracy_mean": g[metric].mean(),
            "accuracy_std": _std(g[metric]),
            "random_mean": ok["random_value"].mean() if len(ok) else np.nan,
            "gain_mean": ok["gain"].mean() if len(ok) else np.nan,
            "gain_std": _std(ok["gain"]),
            "n_seeds": int(g["seed"].nunique()),
            "n_paired": int(ok["seed"].nunique()),
            "gain_ci_low": test.ci_low,
            "gain_ci_high": test.ci_high,
            "p_value": test.p_value,
            "n_pairs": test.n,
        })
    return for_metric(pd.DataFrame(rows, columns=COLUMNS), metric)
