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
