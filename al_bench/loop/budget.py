"""Budget planning: budget points as labeled counts, the initial set and the batch size."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import UserError

log = logging.getLogger("al_bench.loop")

__all__ = ["BudgetPlan", "plan_budget", "check_fractions"]


@dataclass(frozen=True)
class BudgetPlan:
    """Budget points as labeled counts, with the fractions they came from."""

    fractions: tuple[float, ...]  # as configured, increasing, each in (0, 1]
    points: tuple[int, ...]  # n_labeled at each budget point, strictly increasing
    initial: int
    batch_size: int
    pool_size: int

    @property
    def n_rounds(self) -> int:
        """Purchase rounds the plan takes (the last batch before each point is cut to fit)."""
        rounds, have = 0, self.initial
        for target in self.points:
            if target > have:
                rounds += -(-(target - have) // self.batch_size)
                have = target
        return rounds


def _count(value: float | int, pool_size: int, key: str) -> int:
    """An int ≥ 1 is a count; a float in (0, 1) is a fraction of the pool."""
    if isinstance(value, float) and 0 < value < 1:
        return max(1, int(round(value * pool_size)))
    if float(value) == int(value) and int(value) >= 1:
        return int(value)
    raise UserError(f"{key}={value!r}: give a count >= 1 or a fraction of the pool in (0, 1)")


def check_fractions(fractions) -> tuple[float, ...]:
    """``budget.fractions`` as floats: non-empty, strictly increasing, each in (0, 1]."""
    fr = tuple(float(f) for f in fractions)
    if not fr:
        raise UserError("budget.fractions is empty; give increasing fractions of the pool in (0, 1]")
    if any(not 0 < f <= 1 for f in fr) or any(b <= a for a, b in zip(fr, fr[1:])):
        raise UserError(f"budget.fractions={list(fr)}: must be strictly increasing, each in (0, 1]")
    return fr


def plan_budget(pool_size: int, fractions, initial: float | int, batch_size: float | int) -> BudgetPlan:
    """The plan for a pool of ``pool_size``.

    Small pools adapt instead of failing, with one warning: budget points that round to the same
    count are merged (the first fraction kept), and points below ``budget.initial`` are dropped
    (the initial set already holds that many labels). A schedule with no point left above the
    initial set, or a batch larger than the pool, fails in one line: the pool must hold more
    items than ``budget.initial`` (20 by default: with the default split, about 30 images).
    """
    fr = check_fractions(fractions)
    counts = [max(1, int(round(f * pool_size))) for f in fr]
    n0 = _count(initial, pool_size, "budget.initial")
    bs = _count(batch_size, pool_size, "budget.batch_size")
    keep = [i for i, c in enumerate(counts) if c >= n0 and (i == 0 or c != counts[i - 1])]
    if not keep:
        raise UserError(
            f"budget.initial={n0} exceeds the first budget point ({counts[0]} = {fr[0]:g} of a pool of "
            f"{pool_size}) and every other one; lower budget.initial (the pool needs more items than it)")
    if bs > pool_size:
        raise UserError(f"budget.batch_size={bs} is larger than the pool ({pool_size})")
    if len(keep) < len(fr):
        dropped = [f"{fr[i]:g} ({counts[i]})" for i in range(len(fr)) if i not in keep]
        log.warning("budget: a pool of %d items is small for budget.fractions=%s with budget.initial=%d: "
                    "left out the point(s) %s (below the initial set or on the same count as the point "
                    "before); running %s", pool_size, list(fr), n0, ", ".join(dropped),
                    ", ".join(f"{fr[i]:g} ({counts[i]})" for i in keep))
    return BudgetPlan(tuple(fr[i] for i in keep), tuple(counts[i] for i in keep), n0, bs, pool_size)
