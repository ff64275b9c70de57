"""Budget planning: counts from fractions, rounds, and one-line refusals of schedules that cannot run."""

import pytest

from al_bench.errors import UserError
from al_bench.loop import plan_budget


def test_plan_budget_counts_and_rounds():
    plan = plan_budget(1000, [0.05, 0.1, 0.25], 20, 0.02)
    assert plan.points == (50, 100, 250) and plan.initial == 20 and plan.batch_size == 20
    assert plan.n_rounds == 2 + 3 + 8  # 20→50 (20+10), 50→100, 100→250 (7×20 + 10)


@pytest.mark.parametrize(
    "fractions, initial, batch, match",
    [
        ([0.2, 0.1], 5, 5, "strictly increasing"),
        ([0.1, 1.5], 5, 5, r"\(0, 1\]"),
        ([0.1, 0.2], 50, 5, "exceeds the first budget point"),
        ([0.1, 1.0], 201, 5, "exceeds the first budget point"),
        ([0.1, 0.2], 5, 5000, "larger than the pool"),
    ],
)
def test_plan_budget_rejects_bad_schedules(fractions, initial, batch, match):
    with pytest.raises(UserError, match=match):
        plan_budget(200, fractions, initial, batch)


def test_small_pools_adapt_with_one_warning(caplog):
    """A 400-image folder with the default split (pool 288) and the standard schedule runs:
    the 5 % point (14 labels) is below the initial 20 and is left out, with one warning."""
    import logging

    with caplog.at_level(logging.WARNING, logger="al_bench.loop"):
        plan = plan_budget(288, [0.05, 0.10, 0.25, 0.50, 0.75, 1.0], 20, 0.01)
    assert plan.fractions == (0.10, 0.25, 0.50, 0.75, 1.0) and plan.points == (29, 72, 144, 216, 288)
    assert plan.initial == 20 and plan.batch_size == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "0.05 (14)" in warnings[0].getMessage()


def test_points_on_the_same_count_are_merged():
    plan = plan_budget(200, [0.1, 0.1001, 0.5], 5, 5)
    assert plan.fractions == (0.1, 0.5) and plan.points == (20, 100)


def test_a_standard_schedule_is_unchanged():
    plan = plan_budget(4000, [0.05, 0.10, 0.25, 0.50, 0.75, 1.0], 20, 0.01)
    assert plan.points == (200, 400, 1000, 2000, 3000, 4000) and len(plan.fractions) == 6


# -- per-class (low-budget) schedules -------------------------------------------------------------

LOW = [1, 2, 3, 5, 10, 20]


def test_low_schedule_for_ten_classes():
    """C = 10: points 10, 20, 30, 50, 100, 200 labels; the initial set is the first point and
    each round buys the gap to the next point."""
    plan = plan_budget(1000, None, None, None, per_class=LOW, n_classes=10)
    assert plan.points == (10, 20, 30, 50, 100, 200)
    assert plan.initial == 10 and plan.n_rounds == 5
    assert plan.batch_size == 100  # the largest gap (100 → 200): every gap is bought in one round
    assert plan.fractions == (0.01, 0.02, 0.03, 0.05, 0.1, 0.2)  # each point's share of the pool
    assert plan.initial_strategy == "random"


def test_low_schedule_rounds_are_the_gaps():
    plan = plan_budget(1000, None, None, None, per_class=LOW, n_classes=10)
    have, batches = plan.initial, []
    for target in plan.points:  # what the loop buys: min(batch, target − have) until the point
        while have < target:
            n = min(plan.batch_size, target - have)
            batches.append(n)
            have += n
    assert batches == [10, 10, 20, 50, 100]


def test_low_schedule_on_a_small_pool_drops_points_beyond_it(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="al_bench.loop"):
        plan = plan_budget(120, None, None, None, per_class=LOW, n_classes=10)
    assert plan.points == (10, 20, 30, 50, 100) and plan.initial == 10 and plan.n_rounds == 4
    assert plan.batch_size == 50
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "[200]" in warnings[0]
    with pytest.raises(UserError, match=r"even the first point \(10 = 1 × 10 classes\) exceeds the pool \(8\)"):
        plan_budget(8, None, None, None, per_class=LOW, n_classes=10)


def test_per_class_with_an_explicit_initial_set_and_batch():
    plan = plan_budget(1000, None, 5, 4, per_class=[1, 2], n_classes=10)
    assert plan.points == (10, 20) and plan.initial == 5 and plan.batch_size == 4
    assert plan.n_rounds == 2 + 3  # 5 → 10 (4 + 1), 10 → 20 (4 + 4 + 2)
    plan = plan_budget(1000, None, 15, None, per_class=[1, 2, 3], n_classes=10)  # 10 is below the initial 15
    assert plan.points == (20, 30) and plan.batch_size == 10


def test_null_initial_and_batch_on_a_fraction_schedule():
    plan = plan_budget(1000, [0.05, 0.1, 0.3], None, None)
    assert plan.points == (50, 100, 300) and plan.initial == 50 and plan.batch_size == 200 and plan.n_rounds == 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(fractions=[0.1], per_class=[1, 2]), "exclusive"),
    (dict(fractions=None, per_class=[]), "per_class is empty"),
    (dict(fractions=None, per_class=[2, 2]), "strictly increasing"),
    (dict(fractions=None, per_class=[0, 1]), r"per_class\[0\]=0: must be an integer >= 1"),
    (dict(fractions=None, per_class=[1, 2.5]), r"per_class\[1\]=2.5"),
    (dict(fractions=None, per_class=[1, 2], initial=30), "budget.initial=30 exceeds every budget point"),
])
def test_bad_per_class_schedules_are_refused(kwargs, match):
    args = {"initial": None, "batch_size": None, "n_classes": 10, **kwargs}
    with pytest.raises(UserError, match=match):
        plan_budget(1000, args.pop("fractions"), args.pop("initial"), args.pop("batch_size"), **args)
