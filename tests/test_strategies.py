"""Contract tests run over every registered strategy."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from al_bench.strategies import REGISTRY, PoolView, select_batch

CONF = Path(__file__).resolve().parents[1] / "conf" / "strategy"


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


@pytest.mark.parametrize("name", sorted(REGISTRY))
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
