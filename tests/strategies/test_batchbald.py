"""batchbald: its picks equal a brute force of the greedy joint mutual information (every label
configuration enumerated) in the exact regime; the sampled regime agrees with the exact one's
first picks; lazy evaluation picks what evaluating every candidate picks; no underflow in long
batches."""

import itertools

import numpy as np
import pytest

import al_bench.strategies.batchbald as bb
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.batchbald import batchbald_select


def _probs(*shape, seed=0, scale=2.0):
    z = np.random.default_rng(seed).normal(size=shape) * scale
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _entropy(p):
    return -(p * np.log(p)).sum()


def _brute_force(mc, n):
    """Greedy argmax of I(y_batch; θ) = H[y_batch] − Σ E_θ H[y_i | θ], the joint over every
    configuration of the batch's classes, from the definition."""
    k, size, c = mc.shape
    conditional = np.array([np.mean([_entropy(mc[j, i]) for j in range(k)]) for i in range(size)])
    batch, gains, before = [], [], 0.0
    for _ in range(n):
        best = None
        for i in range(size):
            if i in batch:
                continue
            items = batch + [i]
            joint = 0.0
            for config in itertools.product(range(c), repeat=len(items)):
                pr = np.mean([np.prod([mc[j, it, cl] for it, cl in zip(items, config)]) for j in range(k)])
                joint -= pr * np.log(pr)
            value = joint - conditional[items].sum()
            if best is None or value > best[0]:
                best = (value, i)
        batch.append(best[1])
        gains.append(best[0] - before)
        before = best[0]
    return batch, np.array(gains)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_picks_equal_an_exact_joint_entropy_brute_force(seed):
    mc = _probs(6, 11, 3, seed=seed)
    want, want_gains = _brute_force(mc, 4)
    got, gains = batchbald_select(mc, 4, np.random.default_rng(0), samples=10**6)
    assert got.tolist() == want
    np.testing.assert_allclose(gains, want_gains, rtol=0, atol=1e-9)


def test_lazy_evaluation_picks_what_evaluating_every_candidate_picks(monkeypatch):
    mc = _probs(8, 400, 4, seed=5, scale=1.0)
    lazy, lazy_gains = batchbald_select(mc, 6, np.random.default_rng(0), samples=10**5)
    evaluated = []
    real = bb._Joint.gains

    def spy(self, probs, entropies):
        evaluated.append(len(probs))
        return real(self, probs, entropies)

    monkeypatch.setattr(bb._Joint, "gains", spy)
    # every candidate's gain at every pick, by the same state
    joint, picked = bb._Joint(8, 10**5, np.random.default_rng(0)), []
    probs = mc.transpose(1, 0, 2)
    for _ in range(6):
        g = joint.gains(probs, bb._entropy(probs))
        g[picked] = -np.inf
        picked.append(int(np.argmax(g)))
        joint.add(probs[picked[-1]])
    assert lazy.tolist() == picked
    assert np.all(np.diff(lazy_gains) <= 1e-12)  # submodular: the gains never grow
    evaluated.clear()
    batchbald_select(mc, 6, np.random.default_rng(0), samples=10**5)
    assert sum(evaluated) < 5 * 400  # lazy: fewer than every candidate at every pick after the first


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_sampled_regime_agrees_with_the_exact_one_first_picks():
    """C = 3, five picks: the exact regime enumerates up to 3^4 configurations; the sampled one
    draws 8,000 from the first pick on. Both pick the same five."""
    mc = _probs(10, 100, 3, seed=7, scale=1.5)
    exact, _ = batchbald_select(mc, 5, np.random.default_rng(0), samples=20_000)
    sampled = bb._Joint(10, 8_000, np.random.default_rng(1))
    sampled.exact = False  # sampled from the first pick on
    sampled.owner = np.repeat(np.arange(10), 800)
    sampled.log_joint = np.zeros((8_000, 10))
    sampled.pi = np.full(8_000, 1 / 8_000)
    probs = mc.transpose(1, 0, 2)
    picked = []
    for _ in range(5):
        g = sampled.gains(probs, bb._entropy(probs))
        g[picked] = -np.inf
        picked.append(int(np.argmax(g)))
        sampled.add(probs[picked[-1]])
    assert picked == exact.tolist()


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_long_batches_do_not_underflow():
    """400 picks of 10 classes: the configurations' probabilities (about 0.1^400) are far below
    float64's range, their weights (log space) are not."""
    mc = _probs(5, 420, 10, seed=8, scale=0.5).astype(np.float32)
    idx, gains = batchbald_select(mc, 400, np.random.default_rng(0), samples=200)
    assert len(set(idx.tolist())) == 400
    assert np.isfinite(gains).all() and (gains >= -1e-9).all()


def test_the_strategy_draws_its_passes_and_configurations_from_its_stream(head_cache):
    cache, x, labeled = head_cache
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    a = select_batch("batchbald", view, 6, np.random.default_rng(3), params={"samples": 30}, with_scores=True)
    b = select_batch("batchbald", view, 6, np.random.default_rng(3), params={"samples": 30}, with_scores=True)
    np.testing.assert_array_equal(a[0], b[0])
    rng = np.random.default_rng(3)
    mc = view.mc_probs(20, rng)  # the passes' seed is the stream's first draw
    idx, gains = batchbald_select(mc, 6, rng, samples=30)
    np.testing.assert_array_equal(a[0], view.unlabeled[idx])
    np.testing.assert_allclose(a[2], gains, rtol=1e-12)
