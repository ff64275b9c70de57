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
        ([0.1, 0.2], 5, 5000, "larger than the pool"),
        ([0.1, 0.1001], 5, 5, "coincide"),
    ],
)
def test_plan_budget_rejects_bad_schedules(fractions, initial, batch, match):
    with pytest.raises(UserError, match=match):
        plan_budget(200, fractions, initial, batch)
