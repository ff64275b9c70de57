"""Config checks (al_bench.config): strategy parameters are checked for type and range, and NaN
is refused, before any job runs: each in one line naming the key."""

import pytest

from al_bench.cli.run import ConfigCheckError, settings_from
from al_bench.errors import UserError
from al_bench.strategies import check_param_values, register, STRATEGIES
from support import compose_config as _compose

BAD_VALUES = [
    (["strategy=bald", "strategy.params.k=0"], "strategy.params.k"),
    (["strategy=bald", "strategy.params.k=1"], "strategy.params.k"),
    (["strategy=bald", "strategy.params.k=abc"], "strategy.params.k"),
    (["strategy=bald", "strategy.params.k=1e8"], "strategy.params.k"),
    (["strategy=bald", "strategy.params.k=100000000"], "strategy.params.k"),
    (["strategy=hybrid", "strategy.params.shortlist_factor=0"], "strategy.params.shortlist_factor"),
    (["strategy=hybrid", "strategy.params.shortlist_factor=nan"], "strategy.params.shortlist_factor"),
    (["strategy=hybrid", "strategy.params.cold_rounds=-1"], "strategy.params.cold_rounds"),
    (["strategy=typiclust", "strategy.params.k_neighbors=0"], "strategy.params.k_neighbors"),
    (["strategy=typiclust", "strategy.params.kmeans_iters=2.5"], "strategy.params.kmeans_iters"),
    (["budget.fractions=[nan]"], "budget.fractions[0]"),
    (["budget.fractions=[0.1,nan]"], "budget.fractions[1]"),
    (["strategy.random_fraction=nan"], "strategy.random_fraction"),
]


@pytest.mark.parametrize("overrides, key", BAD_VALUES)
def test_bad_values_are_refused_before_any_job_naming_the_key(overrides, key):
    with pytest.raises(ConfigCheckError) as exc:
        settings_from(_compose(*overrides))
    msg = str(exc.value)
    assert msg.startswith(key) and "\n" not in msg


@pytest.mark.parametrize("overrides", [
    ["strategy=bald", "strategy.params.k=2"], ["strategy=bald", "strategy.params.k=1000"],
    ["strategy=hybrid", "strategy.params.shortlist_factor=1", "strategy.params.cold_rounds=0"],
    ["strategy=typiclust", "strategy.params.k_neighbors=5"],
])
def test_values_in_range_pass(overrides):
    s, _ = settings_from(_compose(*overrides))
    assert s.strategy.params


def test_the_range_is_said():
    with pytest.raises(UserError, match=r"strategy.params.k: got 0; must be an integer in \[2, 1000\]"):
        check_param_values("bald", {"k": 0})


def test_a_range_for_a_parameter_the_strategy_lacks_is_a_registration_error():
    with pytest.raises(TypeError, match="not its parameters"):
        @register("_ranged_test", needs=set(), score=None, param_ranges={"nope": (0, 1)})
        def _ranged(view, n, rng, k: int = 3):
            return view.unlabeled[:n]
    assert "_ranged_test" not in STRATEGIES
