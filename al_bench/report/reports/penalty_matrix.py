"""``tables/penalty_matrix.csv``: the pairwise penalty matrix of Ash et al. (BADGE, ICLR 2020),
per comparison group.

The budget points that count are those where random's mean accuracy (over its seeds) is still
below 99 % of its full-pool accuracy (the ``full_pool_accuracy`` column of random's runs: the
same head trained on the whole pool, mean over random's seeds); later points, where every
strategy has caught up, would only add noise. With K such points, for every ordered pair
(i, j) and every counted point, ``P[i, j] += 1/K`` when i beats j: a two-sided paired t-test
over the seeds both ran (:func:`..stats.paired_t`) gives p < 0.05 and i's mean is higher. So
``P[i, j]`` is the fraction of the counted points at which i was significantly better than j.
A pair with fewer than 2 common seeds at a point (a strategy missing the point, one seed) is
not tested there and adds nothing; ``n_untested`` counts those (j, point) comparisons per row.

Without random in a group, or without a full-pool accuracy, the 99 % rule cannot be applied and
every budget point counts (``rule`` says which). With ``--metric`` (:mod:`..metric`) the tests
and the rule use the metric and its ``full_pool_<metric>`` column; runs that do not record that
column count every point.

One row per strategy i of a group, ordered by how rarely it is beaten (``beaten``, the column
sum ``Σ_k P[k, i]``, ascending; then by name); a column per opponent j in that order (the union
over groups; NaN on the diagonal and for strategies not in the group); ``wins`` is the row sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...runfiles import COMPARE_KEYS
from ..metric import DEFAULT, for_metric, full_pool_column
from ..runs import with_identity
from ..stats import paired_t, seed_differences
from . import BASELINE, register

__all__ = ["penalty_matrix", "group_penalties", "counted_points", "SATURATION", "Penalties"]

SATURATION = 0.99  # points count while random's mean accuracy is below this share of full-pool accuracy
RULE_RANDOM = f"random below {SATURATION:.0%} of full-pool accuracy"
RULE_ALL_NO_RANDOM = "every point (no random runs in this group)"
RULE_ALL_NO_FULL = "every point (no full-pool accuracy recorded)"


def counted_points(group: pd.DataFrame, metric: str = DEFAULT) -> tuple[list[float], str]:
    """The budget points of one comparison group that the matrix counts, and the rule used."""
    points = sorted(group["budget"].unique())
    rnd = group.loc[group["strategy"] == BASELINE]
    if rnd.empty:
        return points, RULE_ALL_NO_RANDOM
    col = full_pool_column(metric)
    full = rnd.drop_duplicates("seed")[col] if col in rnd else pd.Series(dtype=float)
    full = float(full.mean()) if full.notna().any() else float("nan")
    if not np.isfinite(full):
        return points, RULE_ALL_NO_FULL.replace(DEFAULT, metric)
    mean = rnd.groupby("budget")[metric].mean()
    return [b for b in points if b in mean.index and mean[b] < SATURATION * full], RULE_RANDOM.replace(DEFAULT, metric)


class Penalties:
    """One group's matrix: ``P`` (S, S) with P[i, j] as in the module docstring, ``untested`` (S,)
    comparisons per row that had fewer than 2 common seeds, ``strategies`` (S,) sorted by name,
    ``points`` counted and ``rule``; ``metric`` the column compared."""

    def __init__(self, group: pd.DataFrame, metric: str = DEFAULT) -> None:
        self.strategies = sorted(group["strategy"].unique())
        self.points, self.rule = counted_points(group, metric)
        s = len(self.strategies)
        self.P = np.zeros((s, s))
        self.untested = np.zeros(s, dtype=int)
        for b in self.points:
            at = group.loc[group["budget"] == b]
            for i, a in enumerate(self.strategies):
                for j, c in enumerate(self.strategies):
                    if i == j:
                        continue
                    test = paired_t(seed_differences(at, a, c, metric))
                    if not test.tested:
                        self.untested[i] += 1
                    elif test.beats():
                        self.P[i, j] += 1.0 / len(self.points)
        np.fill_diagonal(self.P, np.nan)

    @property
    def beaten(self) -> np.ndarray:
        """(S,) column sums: how often each strategy was beaten, by anyone, at the counted points."""
        return np.nansum(self.P, axis=0)

    def order(self) -> list[int]:
        """Strategy indices, least beaten first (then by name)."""
        beaten = self.beaten
        return sorted(range(len(self.strategies)), key=lambda k: (round(beaten[k], 12), self.strategies[k]))


def group_penalties(results: pd.DataFrame, metric: str = DEFAULT) -> list[tuple[tuple, Penalties]]:
    """Every comparison group's key tuple and :class:`Penalties` on ``metric``, in group order."""
    results = with_identity(results)
    return [(gk, Penalties(g, metric)) for gk, g in results.groupby(COMPARE_KEYS, sort=True)]


@register("penalty_matrix", kind="table", output="tables/penalty_matrix.csv", order=60)
def penalty_matrix(results: pd.DataFrame, metric: str = DEFAULT) -> pd.DataFrame:
    """Pairwise penalty matrix (Ash et al. 2020): share of budget points where row beats column (paired t, p < 0.05)."""
    groups = group_penalties(results, metric)
    opponents: list[str] = []
    for _, pen in groups:
        opponents += [pen.strategies[k] for k in pen.order() if pen.strategies[k] not in opponents]
    rows = []
    for gk, pen in groups:
        beaten, index = pen.beaten, {s: k for k, s in enumerate(pen.strategies)}
        for i in pen.order():
            rows.append({
                **dict(zip(COMPARE_KEYS, gk)), "strategy": pen.strategies[i],
                **{o: (pen.P[i, index[o]] if o in index else np.nan) for o in opponents},
                "beaten": beaten[i], "wins": float(np.nansum(pen.P[i])), "n_untested": int(pen.untested[i]),
                "n_points": len(pen.points), "points": ";".join(f"{b:g}" for b in pen.points), "rule": pen.rule,
            })
    columns = COMPARE_KEYS + ["strategy"] + opponents + ["beaten", "wins", "n_untested", "n_points", "points", "rule"]
    return for_metric(pd.DataFrame(rows, columns=columns), metric)
