"""``tables/stopping.csv``: where each stop rule would have stopped each strategy, and what that
cost, per comparison group.

The rules (:mod:`al_bench.stopping`) read ``stop_kappa``, Cohen's κ between the models of
successive budget points on the run's stop set (the first point has none), so a rule can first
hold at the fourth point. For every run and rule, the stop is the first budget point where the
rule holds; a run where it never holds stops at its last point (``stopped`` False).

Rows, per comparison group, strategy (sorted) and rule:

- ``level = seed``: ``seed``, ``stopped``, ``n_labeled`` at the stop, the metric there
  (``value``; accuracy, or ``--metric``'s), ``gap`` = the run's full-pool value − ``value`` (what
  stopping there leaves against labeling the whole pool), ``end_labels`` and ``lost`` = the value
  at the schedule's last point − ``value`` (what stopping early cost against going on);
- ``level = strategy``: ``n_seeds``, ``n_stopped`` (seeds where the rule held), the mean and
  std of ``n_labeled``, the mean ``value``, and ``gap`` and ``lost`` as mean with a 95 % Student t
  interval over the seeds (:func:`..stats.paired_t` of the per-seed values).

Runs written before ``stop_kappa`` existed give no rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ...stopping import RULES, rule_met
from ..metric import DEFAULT, for_metric, full_pool_column
from ..runs import with_identity
from ..stats import paired_t
from . import register

__all__ = ["stopping", "COLUMNS"]

COLUMNS = COMPARE_KEYS + ["strategy", "rule", "level", "seed", "stopped", "n_labeled", "value", "full_pool", "gap",
                          "end_labels", "lost", "n_seeds", "n_stopped", "n_labeled_mean", "n_labeled_std",
                          "value_mean", "gap_mean", "gap_ci_low", "gap_ci_high", "lost_mean", "lost_ci_low",
                          "lost_ci_high"]


def first_stop(kappas: np.ndarray, rule: str) -> int | None:
    """Index of the first point where ``rule`` holds on the κ seen so far, or None."""
    for i in range(len(kappas)):
        if rule_met(kappas[: i + 1], rule):
            return i
    return None


@register("stopping", kind="table", output="tables/stopping.csv", order=75)
def stopping(results: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """Where each stop rule (stabilizing predictions) stops each strategy, and the accuracy it leaves."""
    if "stop_kappa" not in results.columns:
        return pd.DataFrame(columns=COLUMNS)
    results = with_identity(results)
    full_col = full_pool_column(metric)
    rows = []
    for gk, g in results.groupby(COMPARE_KEYS, sort=True):
        group = dict(zip(COMPARE_KEYS, gk))
        for strategy, s in g.groupby("strategy", sort=True):
            for rule in RULES:
                per_seed = []
                for seed, run in s.groupby("seed", sort=True):
                    run = run.sort_values("n_labeled")
                    if run["stop_kappa"].isna().all() and len(run) > 1:
                        continue  # a run from before stop_kappa (its first point has none anyway)
                    i = first_stop(run["stop_kappa"].to_numpy(np.float64), rule)
                    at = run.iloc[len(run) - 1 if i is None else i]
                    end = run.iloc[-1]
                    full = float(at[full_col]) if full_col in run and pd.notna(at[full_col]) else np.nan
                    per_seed.append({**group, "strategy": strategy, "rule": rule, "level": "seed", "seed": int(seed),
                                     "stopped": i is not None, "n_labeled": int(at["n_labeled"]),
                                     "value": float(at[metric]), "full_pool": full, "gap": full - float(at[metric]),
                                     "end_labels": int(end["n_labeled"]), "lost": float(end[metric]) - float(at[metric])})
                if not per_seed:
                    continue
                rows += per_seed
                d = pd.DataFrame(per_seed)
                gap, lost = paired_t(d["gap"].to_numpy()), paired_t(d["lost"].to_numpy())
                rows.append({**group, "strategy": strategy, "rule": rule, "level": "strategy", "n_seeds": len(d),
                             "n_stopped": int(d["stopped"].sum()), "n_labeled_mean": float(d["n_labeled"].mean()),
                             "n_labeled_std": float(d["n_labeled"].std(ddof=1)) if len(d) > 1 else np.nan,
                             "value_mean": float(d["value"].mean()), "gap_mean": gap.mean, "gap_ci_low": gap.ci_low,
                             "gap_ci_high": gap.ci_high, "lost_mean": lost.mean, "lost_ci_low": lost.ci_low,
                             "lost_ci_high": lost.ci_high})
    return for_metric(pd.DataFrame(rows, columns=COLUMNS), metric)
