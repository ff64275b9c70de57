"""``tables/head_agreement.csv``: each strategy's gain over random at each budget point under the
run's own head and under every head its labeled sets were re-scored with (``accuracy@<head>``
columns, from ``python -m al_bench.report OUTPUTS --heads <name>``); empty without them.

One row per comparison group, budget point, strategy (random left out) and other head: the
seed-paired gain, 95 % interval and p-value under the run's head (``gain_*``) and under the other
(``other_gain_*``), and ``sign_change``: ``yes`` when the two mean gains have opposite signs and
at least one of the two intervals excludes 0 — a verdict that then depends on the head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..runs import with_identity
from ..stats import PairedTest, paired_t, seed_differences
from . import BASELINE, register

__all__ = ["head_agreement", "head_columns", "sign_changes", "COLUMNS"]

PREFIX = "accuracy@"  # the results columns of re-scored heads (written by al_bench.report.rescore)
COLUMNS = COMPARE_KEYS + ["budget", "n_labeled", "strategy", "other_head", "gain_mean", "gain_ci_low", "gain_ci_high",
                          "p_value", "other_gain_mean", "other_gain_ci_low", "other_gain_ci_high", "other_p_value",
                          "n_pairs", "sign_change"]


def head_columns(results: pd.DataFrame) -> list[str]:
    """The re-scored heads present in ``results``, by name."""
    return [c[len(PREFIX):] for c in results.columns if c.startswith(PREFIX)]


def sign_changes(at: pd.DataFrame, strategy: str, heads: list[str], main: PairedTest) -> list[str]:
    """The heads under which ``strategy``'s gain over random at one budget point of one group
    (rows ``at``) has the opposite sign to the run head's (``main``, its paired test), one of
    the two significantly."""
    return [h for h in heads if _opposite(main, _other(at, strategy, h))]


def _other(at: pd.DataFrame, strategy: str, head: str) -> PairedTest:
    """The paired test of ``strategy`` − random under the re-scoring head ``head``."""
    return paired_t(seed_differences(at, strategy, BASELINE, PREFIX + head))


def _excludes_zero(t) -> bool:
    return bool(np.isfinite(t.ci_low) and (t.ci_low > 0 or t.ci_high < 0))


def _opposite(a, b) -> bool:
    return bool(np.isfinite(a.mean) and np.isfinite(b.mean) and a.mean * b.mean < 0
                and (_excludes_zero(a) or _excludes_zero(b)))


@register("head_agreement", kind="table", output="tables/head_agreement.csv", order=65)
def head_agreement(results: pd.DataFrame) -> pd.DataFrame:
    """Gain over random under the run's head and under each re-scoring head, and whether its sign changes."""
    heads = head_columns(results)
    if not heads:
        return pd.DataFrame(columns=COLUMNS)
    results = with_identity(results)
    rows = []
    for gk, g in results.groupby(COMPARE_KEYS, sort=True):
        if not (g["strategy"] == BASELINE).any():
            continue
        for b, at in g.groupby("budget", sort=True):
            for strategy in sorted(set(at["strategy"]) - {BASELINE}):
                main = paired_t(seed_differences(at, strategy, BASELINE))
                for h in heads:
                    other = _other(at, strategy, h)
                    rows.append({
                        **dict(zip(COMPARE_KEYS, gk)), "budget": b, "n_labeled": int(round(at["n_labeled"].mean())),
                        "strategy": strategy, "other_head": h, "gain_mean": main.mean, "gain_ci_low": main.ci_low,
                        "gain_ci_high": main.ci_high, "p_value": main.p_value, "other_gain_mean": other.mean,
                        "other_gain_ci_low": other.ci_low, "other_gain_ci_high": other.ci_high,
                        "other_p_value": other.p_value, "n_pairs": min(main.n, other.n),
                        "sign_change": "yes" if _opposite(main, other) else "no",
                    })
    return pd.DataFrame(rows, columns=COLUMNS)
