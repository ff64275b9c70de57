"""GivenOutputs: the ModelAccess a selection's PoolView gets, from given arrays or a head trained here."""

import inspect

import numpy as np
import pytest

from al_bench import scores as S
from al_bench.errors import UserError
from al_bench.picking.outputs import GivenOutputs
from al_bench.strategies import ModelAccess
from al_bench.strategies.badge import gradient_embedding


def _probs(n, c=3, seed=0, dtype=np.float64):
    logits = np.random.default_rng(seed).normal(size=(n, c))
    return (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(dtype)


def test_implements_every_method_of_the_protocol():
    wanted = {n for n, v in vars(ModelAccess).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert wanted == {"probs", "mc_probs", "gradient_factors", "bald_scores", "feature_dropout_probs", "mc_probs_inputs"}
    for name in wanted:
        assert inspect.signature(getattr(GivenOutputs, name)).parameters.keys() == \
            inspect.signature(getattr(ModelAccess, name)).parameters.keys(), name


def test_given_arrays_are_served_by_position():
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    mc = np.stack([_probs(6, seed=s) for s in range(3)]).astype(np.float32)
    out = GivenOutputs(x, mc.mean(0), mc)
    pos = np.array([4, 1])
    np.testing.assert_array_equal(out.probs(pos), mc.mean(0)[pos])
    np.testing.assert_array_equal(out.mc_probs(pos, k=20, seed=5), mc[:, pos])  # all K given, whatever k
    np.testing.assert_array_equal(out.bald_scores(pos, 20, 5), S.bald(mc[:, pos]))
    assert not out.head_trained


def test_bald_without_samples_asks_for_them():
    out = GivenOutputs(np.zeros((3, 2), np.float32), _probs(3), None)
    with pytest.raises(UserError, match=r"needs MC-dropout samples: give probs of shape \(K, N, C\)"):
        out.bald_scores(np.arange(3), 4, 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_factors_of_given_probs(dtype):
    """(p − onehot(ŷ)) ⊗ [x, 1]: the loss gradient of a linear layer, as badge.gradient_embedding
    spells out; the first factor keeps the probabilities' precision."""
    x = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    p = _probs(5, c=4, dtype=dtype)
    a, xb = GivenOutputs(x, p, None).gradient_factors(np.arange(5))
    assert a.dtype == dtype and xb.dtype == np.float64 and xb.shape == (5, 4)
    np.testing.assert_array_equal(xb[:, -1], 1.0)
    g = (a[:, :, None] * xb[:, None, :]).reshape(5, -1)
    ref = gradient_embedding(np.c_[x, np.ones(5)], p)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-7)
    assert (a.argmin(1) == p.argmax(1)).all() and np.allclose(a.sum(1), 0.0, atol=1e-6)


def test_a_head_is_trained_once_and_only_when_asked(blobs):
    x, y = blobs
    trained = []

    def train():
        from al_bench.heads.linear import LinearHead, LinearSettings

        trained.append(1)
        return LinearHead(x.shape[1], 3, LinearSettings(), 0).fit(x[:60], y[:60])

    out = GivenOutputs(x, None, None, train)
    assert not out.head_trained and trained == []
    pos = np.arange(100, 110)
    p = out.probs(pos)
    assert out.head_trained and p.shape == (10, 3) and np.allclose(p.sum(1), 1)
    np.testing.assert_array_equal(out.bald_scores(pos, 4, 7), S.bald(out.mc_probs(pos, 4, 7)))
    a, xb = out.gradient_factors(pos)
    assert a.shape == (10, 3) and xb.shape == (10, 9)
    assert trained == [1]
