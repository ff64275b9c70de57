"""Budget planning: budget points as labeled counts, the initial set and the batch size.

Budget points come from ``budget.fractions`` (labeled fractions of the pool) or, for low-budget
schedules, from ``budget.per_class`` (multiples of the number of classes C: ``[1, 2, 5]`` means
C, 2C and 5C labels). The plan knows C, never which class an item is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import UserError

log = logging.getLogger("al_bench.loop")

__all__ = ["BudgetPlan", "plan_budget", "check_fractions", "check_per_class"]


@dataclass(frozen=True)
class BudgetPlan:
    """Budget points as labeled counts, with the fractions they came from."""

    # as configured, increasing, each in (0, 1]; for a per-class schedule each point's share of
    # the pool (point / pool_size)
    fractions: tuple[float, ...]
    points: tuple[int, ...]  # n_labeled at each budget point, strictly increasing
    initial: int
    batch_size: int  # labels bought per round at most (the last batch before a point is cut to fit)
    pool_size: int
    initial_strategy: str = "random"  # what picks the initial set (al_bench.loop.initial_set)

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
    fr = tuple(float(f) for f in fractions or ())
    if not fr:
        raise UserError("budget.fractions is empty; give increasing fractions of the pool in (0, 1]")
    if any(not 0 < f <= 1 for f in fr) or any(b <= a for a, b in zip(fr, fr[1:])):
        raise UserError(f"budget.fractions={list(fr)}: must be strictly increasing, each in (0, 1]")
    return fr


def check_per_class(per_class) -> tuple[int, ...]:
    """``budget.per_class`` as ints: non-empty, strictly increasing, each an integer >= 1."""
    pc = list(per_class)
    if not pc:
        raise UserError("budget.per_class is empty; give increasing labels per class, e.g. [1, 2, 5]")
    for i, v in enumerate(pc):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or float(v) != int(v) or int(v) < 1:
            raise UserError(f"budget.per_class[{i}]={v!r}: must be an integer >= 1 (labels per class)")
    out = tuple(int(v) for v in pc)
    if any(b <= a for a, b in zip(out, out[1:])):
        raise UserError(f"budget.per_class={list(out)}: must be strictly increasing")
    return out


def plan_budget(pool_size: int, fractions, initial: float | int | None, batch_size: float | int | None, *,
                per_class=None, n_classes: int | None = None, initial_strategy: str = "random") -> BudgetPlan:
    """The plan for a pool of ``pool_size``.

    Budget points are ``fractions`` of the pool, or with ``per_class`` (``fractions`` None or
    empty) ``k × n_classes`` labels for each k. ``initial`` None means the first budget point
    (so that point is read on the initial set alone); ``batch_size`` None means one round per
    budget point (each batch is the gap to the next point).

    Small pools adapt instead of failing, with one warning: budget points that round to the same
    count are merged (the first fraction kept), points below ``budget.initial`` are dropped
    (the initial set already holds that many labels), and per-class points beyond the pool are
    dropped. A schedule with no point left above the initial set, or a batch larger than the
    pool, fails in one line: the pool must hold more items than ``budget.initial`` (20 by
    default: with the default split, about 30 images).
    """
    if per_class is not None and fractions:
        raise UserError("budget.per_class and budget.fractions are exclusive: give one (set the other to null)")
    if per_class is not None:
        return _plan_per_class(pool_size, check_per_class(per_class), n_classes, initial, batch_size,
                               initial_strategy)
    fr = check_fractions(fractions)
    counts = [max(1, int(round(f * pool_size))) for f in fr]
    n0 = counts[0] if initial is None else _count(initial, pool_size, "budget.initial")
    bs = None if batch_size is None else _count(batch_size, pool_size, "budget.batch_size")
    keep = [i for i, c in enumerate(counts) if c >= n0 and (i == 0 or c != counts[i - 1])]
    if not keep:
        raise UserError(
            f"budget.initial={n0} exceeds the first budget point ({counts[0]} = {fr[0]:g} of a pool of "
            f"{pool_size}) and every other one; lower budget.initial (the pool needs more items than it)")
    if bs is None:
        bs = _largest_gap(n0, [counts[i] for i in keep])
    if bs > pool_size:
        raise UserError(f"budget.batch_size={bs} is larger than the pool ({pool_size})")
    if len(keep) < len(fr):
        dropped = [f"{fr[i]:g} ({counts[i]})" for i in range(len(fr)) if i not in keep]
        log.warning("budget: a pool of %d items is small for budget.fractions=%s with budget.initial=%d: "
                    "left out the point(s) %s (below the initial set or on the same count as the point "
                    "before); running %s", pool_size, list(fr), n0, ", ".join(dropped),
                    ", ".join(f"{fr[i]:g} ({counts[i]})" for i in keep))
    return BudgetPlan(tuple(fr[i] for i in keep), tuple(counts[i] for i in keep), n0, bs, pool_size,
                      initial_strategy)


def _largest_gap(n0: int, points) -> int:
    """The largest step from the initial set through the points: a batch that reaches each
    point in one round."""
    steps = [b - a for a, b in zip([n0, *points], points) if b > a]
    return max(steps, default=1)


def _plan_per_class(pool_size: int, per_class: tuple[int, ...], n_classes: int | None,
                    initial: float | int | None, batch_size: float | int | None,
                    initial_strategy: str) -> BudgetPlan:
    if n_classes is None or int(n_classes) < 1:
        raise ValueError("a per-class budget schedule needs the number of classes")
    C = int(n_classes)
    counts = [k * C for k in per_class]
    fit = [c for c in counts if c <= pool_size]
    if not fit:
        raise UserError(f"budget.per_class={list(per_class)}: even the first point ({counts[0]} = {per_class[0]} × "
                        f"{C} classes) exceeds the pool ({pool_size})")
    n0 = fit[0] if initial is None else _count(initial, pool_size, "budget.initial")
    keep = [c for c in fit if c >= n0]
    if not keep:
        raise UserError(f"budget.initial={n0} exceeds every budget point {fit} ({list(per_class)} × {C} classes); "
                        f"lower budget.initial or set it to null (the first point)")
    if len(keep) < len(counts):
        log.warning("budget: left out the point(s) %s of budget.per_class=%s × %d classes (beyond the pool of %d "
                    "or below budget.initial=%d); running %s", [c for c in counts if c not in keep],
                    list(per_class), C, pool_size, n0, keep)
    bs = _largest_gap(n0, keep) if batch_size is None else _count(batch_size, pool_size, "budget.batch_size")
    if bs > pool_size:
        raise UserError(f"budget.batch_size={bs} is larger than the pool ({pool_size})")
    return BudgetPlan(tuple(c / pool_size for c in keep), tuple(keep), n0, bs, pool_size, initial_strategy)
