"""Contract tests every registered strategy inherits: its YAML, its declared needs and score,
and the selection invariants (unique, unlabeled, right size, deterministic, pool untouched)."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from al_bench.strategies import MODEL_OUTPUTS, REGISTRY, STRATEGIES, PoolView, register, select_batch
from al_bench.strategies._base import NEEDS

CONF = Path(__file__).resolve().parents[2] / "al_bench" / "conf" / "strategy"


def test_yaml_stems_equal_the_registry():
    stems = sorted(p.stem for p in CONF.glob("*.yaml"))
    assert stems == sorted(REGISTRY)
    for p in CONF.glob("*.yaml"):
        assert yaml.safe_load(p.read_text())["name"] == p.stem


def _view(head_cache, rnd=1):
    cache, x_pool, labeled = head_cache
    unlabeled = np.setdiff1d(np.arange(len(x_pool)), labeled)
    return PoolView(x_pool, labeled, unlabeled, 3, rnd, cache)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("random_fraction", [0.0, 0.3])
def test_strategy_contract(name, random_fraction, head_cache):
    cache, x_pool, labeled = head_cache
    x_before, lab_before = x_pool.copy(), labeled.copy()
    view = _view(head_cache)
    picks, own = select_batch(name, view, 12, np.random.default_rng(3), random_fraction)
    assert picks.shape == (12,) and picks.dtype == np.int64
    assert np.unique(picks).size == 12, "unique"
    assert np.isin(picks, view.unlabeled).all(), "only unlabeled"
    assert not np.isin(picks, labeled).any()
    assert own.sum() == 12 - round(random_fraction * 12)
    again, _ = select_batch(name, _view(head_cache), 12, np.random.default_rng(3), random_fraction)
    assert again.tolist() == picks.tolist(), "deterministic for the same rng"
    np.testing.assert_array_equal(x_pool, x_before)
    np.testing.assert_array_equal(labeled, lab_before)
    assert x_pool.flags.writeable, "the view must not change the caller's arrays"


# batchbald buying the whole pool evaluates every candidate at every pick once the K passes are
# told apart (about 14 s): the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "batchbald" else n
                                  for n in sorted(REGISTRY)])
def test_strategy_can_take_every_unlabeled_item(name, head_cache):
    view = _view(head_cache)
    picks, _ = select_batch(name, view, view.unlabeled.size, np.random.default_rng(0))
    assert sorted(picks.tolist()) == view.unlabeled.tolist()


def test_view_arrays_are_read_only(head_cache):
    view = _view(head_cache)
    with pytest.raises(ValueError):
        view.embeddings[0, 0] = 1.0
    with pytest.raises(ValueError):
        view.unlabeled[0] = 0


def test_uncertainty_strategies_pick_the_most_uncertain(head_cache):
    from al_bench import scores

    view = _view(head_cache)
    probs = view.probs()
    for name in ("entropy", "margin", "least_confidence"):
        picks, _ = select_batch(name, view, 5, np.random.default_rng(0))
        s = getattr(scores, name)(probs)
        best = np.sort(s)[-5:]
        np.testing.assert_allclose(np.sort(s[np.searchsorted(view.unlabeled, picks)]), best)


def test_unknown_strategy_and_parameter_are_user_errors(head_cache):
    from al_bench.errors import UserError

    with pytest.raises(UserError, match="choose one of"):
        select_batch("entrpy", _view(head_cache), 3, np.random.default_rng(0))
    with pytest.raises(UserError, match="not a parameter"):
        select_batch("entropy", _view(head_cache), 3, np.random.default_rng(0), params={"k": 3})


class _Only:
    """Model access that offers only the capabilities a strategy declared."""

    CAPABILITY = {"probs": "probs", "mc_probs": "mc", "bald_scores": "mc", "gradient_factors": "grad",
                  "feature_dropout_probs": "dropout"}

    def __init__(self, oracle, needs):
        self.oracle, self.needs, self.used = oracle, needs, set()

    def __getattr__(self, item):
        need = self.CAPABILITY[item]
        if need not in self.needs:
            raise AssertionError(f"asked for {item} without declaring {need!r} in needs")
        self.used.add(need)
        return getattr(self.oracle, item)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_strategy_declares_what_it_needs_and_what_its_score_means(name, head_cache):
    entry = STRATEGIES.entry(name)
    assert entry.needs <= NEEDS
    assert entry.score is None or (isinstance(entry.score, str) and entry.score)
    oracle, x_pool, labeled = head_cache
    model = _Only(oracle, entry.needs)
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(len(x_pool)), labeled), 3, 1,
                    model if entry.needs & MODEL_OUTPUTS else None)
    picks, _, scores = select_batch(name, view, 6, np.random.default_rng(0), with_scores=True)
    assert model.used <= entry.needs
    if scores is not None:
        assert scores.shape == (6,) and np.isfinite(scores).all() and entry.score
    pick_scores = entry.meta.get("pick_scores")
    if pick_scores is not None:
        assert pick_scores(view, picks).shape == (6,) and entry.score


@pytest.fixture
def extra_strategy():
    """A strategy added the way a newcomer adds one: a function with @register (in a module of
    al_bench/strategies/ it would be found by discovery; nothing else is edited)."""

    @register("farthest_from_mean", needs={"features"}, score="distance to the pool mean (embedding units)")
    def farthest_from_mean(view, n, rng, power: float = 1.0):
        d = np.linalg.norm(view.embeddings[view.unlabeled] - view.embeddings.mean(0), axis=1) ** power
        order = np.argsort(-d, kind="stable")[:n]
        return view.unlabeled[order], d[order]

    yield "farthest_from_mean"
    STRATEGIES.unregister("farthest_from_mean")


def test_a_new_strategy_is_one_registration_away(extra_strategy, head_cache, tmp_path):
    import al_bench
    from al_bench.config import parse_settings
    from al_bench.errors import UserError

    _, x_pool, labeled = head_cache
    ids = [f"img{i}" for i in range(len(x_pool))]
    sel = al_bench.select(ids, x_pool, 5, strategy=extra_strategy, labeled=[ids[i] for i in labeled], power=2.0)
    d = np.linalg.norm(x_pool - x_pool.mean(0), axis=1) ** 2
    d[labeled] = -1
    assert list(sel.ids) == [ids[i] for i in np.argsort(-d, kind="stable")[:5]]
    np.testing.assert_allclose(sel.scores, np.sort(d)[::-1][:5])
    with pytest.raises(UserError, match="strategy.params.pw: not a parameter"):
        al_bench.select(ids, x_pool, 5, strategy=extra_strategy, pw=2.0)
    from al_bench.cli.run import plain_config
    from support import compose_config

    cfg = plain_config(compose_config())
    cfg["strategy"] = {"name": extra_strategy, "random_fraction": 0.0, "params": {"power": 3.0}}
    assert parse_settings(cfg).strategy.params == {"power": 3.0}  # the config layer knows it too
