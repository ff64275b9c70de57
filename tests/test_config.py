"""Config checks (al_bench.config): strategy parameters are checked for type and range, and NaN
is refused, before any job runs: each in one line naming the key."""

import json
from pathlib import Path

import pytest

import al_bench
from al_bench.cli.run import ConfigCheckError, settings_from
from al_bench.errors import UserError
from al_bench.strategies import STRATEGIES, check_param_values, register
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


# -- issue 15 options: cold start, stochastic sampling, per-class schedules ------------------------

ISSUE15_BAD = [
    (["budget.initial_strategy=entropy"], "budget.initial_strategy='entropy': needs model outputs"),
    (["budget.initial_strategy=badge"], "budget.initial_strategy='badge': needs model outputs"),
    (["budget.initial_strategy=typiklust"], "budget.initial_strategy='typiklust': choose one of"),
    (["strategy=kcenter", "+strategy.sampling=power"], "strategy.sampling: 'power' needs a strategy that scores"),
    (["strategy=random", "+strategy.sampling=softmax"], "strategy.sampling: 'softmax' needs a strategy that scores"),
    (["strategy=entropy", "strategy.sampling=gumbel"], "strategy.sampling='gumbel': choose one of"),
    (["strategy=entropy", "strategy.sampling=power", "strategy.beta=-1"], "strategy.beta=-1: must lie in"),
    (["strategy=entropy", "strategy.sampling=power", "strategy.beta=nan"], "strategy.beta=nan: must lie in"),
    (["strategy=entropy", "strategy.beta=2"], "strategy.beta: 2 does nothing with strategy.sampling=topk"),
    (["budget=low", "budget.fractions=[0.1]"], "budget.per_class=[1, 2, 3, 5, 10, 20] and budget.fractions=[0.1] are"),
    (["budget.per_class=[1,2]"], "budget.per_class=[1, 2] and budget.fractions="),
    (["budget=low", "budget.per_class=[]"], "budget.per_class=[]: give a list"),
    (["budget=low", "budget.per_class=[3,2]"], "budget.per_class=[3, 2]: must be strictly increasing"),
    (["budget=low", "budget.per_class=[0]"], r"budget.per_class[0]=0: must be an integer >= 1"),
    (["budget=low", "budget.per_class=[1,abc]"], r"budget.per_class[1]='abc'"),
    (["budget=low", "budget.initial=0"], "budget.initial=0"),
]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("overrides, start", ISSUE15_BAD)
def test_issue15_options_are_checked_before_any_job(overrides, start):
    with pytest.raises(ConfigCheckError) as exc:
        settings_from(_compose(*overrides))
    msg = str(exc.value)
    assert msg.startswith(start) and "\n" not in msg


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_issue15_defaults_and_good_values():
    s, _ = settings_from(_compose())
    assert (s.budget.initial_strategy, s.budget.per_class, s.strategy.sampling, s.strategy.beta) == \
        ("random", None, "topk", 1.0)
    s, _ = settings_from(_compose("budget=low", "budget.initial_strategy=kmeans_centroids"))
    assert s.budget.per_class == (1, 2, 3, 5, 10, 20) and s.budget.fractions == ()
    assert s.budget.initial is None and s.budget.batch_size is None and s.budget.initial_strategy == "kmeans_centroids"
    for name in ("kcenter", "typiclust", "random"):
        assert settings_from(_compose(f"budget.initial_strategy={name}"))[0].budget.initial_strategy == name


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_every_budget_schedule_composes_with_every_initial_strategy_key():
    from pathlib import Path

    for p in sorted((Path(__file__).resolve().parents[1] / "al_bench" / "conf" / "budget").glob("*.yaml")):
        s, _ = settings_from(_compose(f"budget={p.stem}", "budget.initial_strategy=kcenter"))
        assert s.budget.name == p.stem and s.budget.initial_strategy == "kcenter"


def _ids(*overrides):
    from al_bench.cli.run import plain_config
    from al_bench.runfiles import comparison_id, config_id, run_dir_of, strategy_id

    d = plain_config(_compose(*overrides))  # the identity of the composed config (checks are tested above)
    return {"config": config_id(d), "comparison": comparison_id(d), "strategy": strategy_id(d), "dir": run_dir_of(d)}


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_run_identity_separates_initial_strategies():
    """The initial strategy is a budget setting: another run folder and another comparison group
    (its runs are never paired with, nor averaged into, runs from another initial set)."""
    a = _ids("strategy=entropy")
    b = _ids("strategy=entropy", "budget.initial_strategy=typiclust")
    c = _ids("strategy=entropy", "budget.initial_strategy=kcenter")
    assert len({a["dir"], b["dir"], c["dir"]}) == 3 and len({a["comparison"], b["comparison"], c["comparison"]}) == 3
    assert a["strategy"] == b["strategy"] == c["strategy"]
    # within one initial strategy, strategies share the comparison group (paired on that initial set)
    assert _ids("strategy=random", "budget.initial_strategy=typiclust")["comparison"] == b["comparison"]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_run_identity_separates_sampling_and_beta():
    """Sampling and β are strategy settings: another run folder and strategy variant, in the
    same comparison group as random (so their gain over random is seed-paired)."""
    ids = [_ids("strategy=entropy"), _ids("strategy=entropy", "strategy.sampling=power"),
           _ids("strategy=entropy", "strategy.sampling=power", "strategy.beta=2"),
           _ids("strategy=entropy", "strategy.sampling=softmax"),
           _ids("strategy=entropy", "strategy.sampling=softrank")]
    assert len({i["dir"] for i in ids}) == len({i["strategy"] for i in ids}) == len({i["config"] for i in ids}) == 5
    assert len({i["comparison"] for i in ids} | {_ids("strategy=random")["comparison"]}) == 1


# -- the same value typed two ways is one run ------------------------------------------------------

def _run_dir(*overrides):
    from support import compose_config

    return str(compose_config("dataset=digits", "embedder=pixels", "budget=smoke", *overrides).hydra.sweep.subdir)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("typed, declared", [
    (["strategy=hybrid", "strategy.params.shortlist_factor=2"], ["strategy=hybrid", "strategy.params.shortlist_factor=2.0"]),
    (["strategy.random_fraction=0"], ["strategy.random_fraction=0.0"]),
    (["budget.fractions=[0.05,0.1,1]"], ["budget.fractions=[0.05,0.1,1.0]"]),
    (["budget.initial=20.0"], ["budget.initial=20"]),
    (["model.lr=1"], ["model.lr=1.0"]),
    (["dataset.test_fraction=0.2", "strategy=entropy", "strategy.sampling=softmax", "strategy.beta=2"],
     ["dataset.test_fraction=0.2", "strategy=entropy", "strategy.sampling=softmax", "strategy.beta=2.0"]),
])
def test_a_value_typed_as_an_integer_names_the_same_run(typed, declared):
    """``shortlist_factor=2`` against its default 2.0 made a second folder with byte-identical
    curves, reported as a second strategy with half the seeds; values are hashed as their
    declared type now, so both spellings name one run folder (and one config.yaml)."""
    from al_bench.cli.run import settings_from
    from support import compose_config

    ca, cb = (compose_config("dataset=digits", "embedder=pixels", "budget=smoke", *o) for o in (typed, declared))
    assert str(ca.hydra.sweep.subdir) == str(cb.hydra.sweep.subdir)
    a, b = settings_from(ca)[1], settings_from(cb)[1]
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_other_values_still_name_other_runs():
    assert _run_dir("strategy=hybrid", "strategy.params.shortlist_factor=3") != _run_dir("strategy=hybrid")
    assert _run_dir("budget.initial=0.2") != _run_dir("budget.initial=20")


STRATEGY_NAMES = sorted(p.stem for p in (Path(al_bench.__file__).parent / "conf" / "strategy").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("group, options", [
    ("strategy", STRATEGY_NAMES), ("model", ["linear", "linear_std", "resnet18"]),
    ("budget", ["standard", "quick", "smoke", "low"]), ("dataset", ["digits", "cifar10", "bdd100k_weather", "auto"]),
    ("embedder", ["pixels", "kmeans_patches", "dinov2_vits14", "auto"]), ("experiment", ["smoke"])])
def test_shipped_configs_are_already_canonical(group, options):
    """Every value the shipped configs give is already its declared type, so canonicalizing
    leaves their run ids, and so every existing run folder made from them, as they were."""
    from al_bench.cli.run import plain_config
    from al_bench.config import canonical_config
    from support import compose_config

    for option in options:
        d = plain_config(compose_config(f"{group}={option}"))
        assert json.dumps(canonical_config(d), sort_keys=True) == json.dumps(d, sort_keys=True), option
