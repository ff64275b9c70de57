"""``tables/labels_to_match.csv``: the fewest labels at which each strategy matches full-pool
accuracy, and the saving over random; the same for 95 % of full-pool accuracy (``*_95``), which
is reached far more often."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, for_metric, full_pool_column
from ..runs import with_identity
from . import BASELINE, register

__all__ = ["labels_to_match", "SHARE"]

SHARE = 0.95  # the second target: this share of full-pool accuracy


def _first_crossing(n: np.ndarray, acc: np.ndarray, target: float) -> float:
    """Labels at which the piecewise-linear curve (n, acc) first reaches ``target``; NaN if never."""
    hit = np.flatnonzero(acc >= target - 1e-12)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(n[0])
    a0, a1 = acc[i - 1], acc[i]
    return float(n[i - 1] + (target - a0) / (a1 - a0) * (n[i] - n[i - 1]))


@register("labels_to_match", kind="table", output="tables/labels_to_match.csv", order=20)
def labels_to_match(results: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """Fewest labels at which each strategy's mean accuracy reaches full-pool accuracy.

    The target is the mean over seeds of the same head trained on the whole pool; between
    budget points the mean curve is interpolated linearly. The saving is relative to random.
    The ``*_95`` columns do the same for 95 % of that target (``target_accuracy_95``).
    ``metric``: the column compared (:mod:`..metric`), its target ``full_pool_<metric>``; runs
    that do not record it have no target (``reached``: ``no full-pool <metric> recorded``).
    """
    results = with_identity(results)
    full = full_pool_column(metric)
    rows = []
    for gk, g in results.groupby(COMPARE_KEYS, sort=True):
        target = g.drop_duplicates("seed")[full].mean() if full in g else np.nan
        found = {}
        for strategy, s in g.groupby("strategy", sort=True):
            curve = s.groupby("budget").agg(n=("n_labeled", "mean"), acc=(metric, "mean")).sort_index()
            n, acc = curve["n"].to_numpy(), curve["acc"].to_numpy()
            found[strategy] = (_first_crossing(n, acc, target), int(curve["n"].iloc[-1]), int(s["seed"].nunique()),
                               _first_crossing(n, acc, SHARE * target))
        no_target = f"no full-pool {metric} recorded" if not np.isfinite(target) else None
        rnd = found.get(BASELINE, (np.nan,))[0]
        rnd95 = found.get(BASELINE, (np.nan,) * 4)[3]
        for strategy, (labels, largest, n_seeds, labels95) in found.items():
            rows.append({
                **dict(zip(COMPARE_KEYS, gk)), "strategy": strategy, "target_accuracy": target,
                "labels_to_match": labels if np.isfinite(labels) else np.nan,
                "reached": no_target or ("yes" if np.isfinite(labels) else f"not reached by {largest}"),
                "random_labels": rnd,
                "labels_saved": rnd - labels if np.isfinite(labels) and np.isfinite(rnd) else np.nan,
                "saving_fraction": (rnd - labels) / rnd if np.isfinite(labels) and np.isfinite(rnd) else np.nan,
                "n_seeds": n_seeds,
                "target_accuracy_95": SHARE * target,
                "labels_to_95": labels95 if np.isfinite(labels95) else np.nan,
                "reached_95": no_target or ("yes" if np.isfinite(labels95) else f"not reached by {largest}"),
                "random_labels_95": rnd95,
                "labels_saved_95": rnd95 - labels95 if np.isfinite(labels95) and np.isfinite(rnd95) else np.nan,
                "saving_fraction_95": ((rnd95 - labels95) / rnd95 if np.isfinite(labels95) and np.isfinite(rnd95)
                                       else np.nan),
            })
    return for_metric(pd.DataFrame(rows), metric)
