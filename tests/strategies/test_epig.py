"""epig: equal to the definition (the (N, T, K, C, C) joint, float64) and to the reference's two
formulas as the reference computes them; held-out targets come from the same MC passes; with a
distractor class in the pool, held-out targets steer away from it."""

import numpy as np
import pytest
import torch

from al_bench.data import make_split
from al_bench.errors import UserError
from al_bench.loop import ModelOracle, default_head
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.epig import epig_scores


def _probs(*shape, seed=0, scale=2.0):
    z = np.random.default_rng(seed).normal(size=shape) * scale
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _brute_force(pool, target):
    """The definition in float64: E_{x*} KL[p(y, y*) || p(y) p(y*)], the (N, T, K, C, C) joint whole."""
    p = pool.transpose(1, 0, 2)[:, None, :, :, None]  # (N, 1, K, C, 1)
    q = target.transpose(1, 0, 2)[None, :, :, None, :]  # (1, T, K, 1, C)
    joint = (p * q).mean(axis=2)  # (N, T, C, C)
    indep = p.mean(axis=2) * q.mean(axis=2)
    return (joint * np.log(joint / indep)).sum(axis=(-1, -2)).mean(axis=1)


def _reference_kl_form(pool, target):
    """epig_from_probs of the authors' code (src/uncertainty/epig_probs.py), written out: the same
    torch operations on (N, K, C) float32 tensors."""
    pp = torch.as_tensor(pool.transpose(1, 0, 2), dtype=torch.float32)[:, None, :, :, None]
    pt = torch.as_tensor(target.transpose(1, 0, 2), dtype=torch.float32)[None, :, :, None, :]
    joint = torch.mean(pp * pt, dim=2)
    indep = torch.mean(pp, dim=2) * torch.mean(pt, dim=2)
    scores = torch.sum(torch.xlogy(joint, joint), dim=(-2, -1)) - torch.sum(torch.xlogy(joint, indep), dim=(-2, -1))
    return scores.mean(-1).double().numpy()


def _reference_matmul_form(pool, target):
    """epig_from_probs_using_matmul: H[y] + E H[y*] − E H[y, y*], the joint as one matrix product."""
    pp = torch.as_tensor(pool.transpose(1, 0, 2), dtype=torch.float32)  # (N, K, C)
    pt = torch.as_tensor(target.transpose(1, 0, 2), dtype=torch.float32)  # (T, K, C)
    t, k, c = pt.shape

    def marginal_entropy(x):
        m = x.mean(1)
        return -torch.sum(torch.xlogy(m, m), -1)

    joint = pp.permute(0, 2, 1) @ pt.permute(1, 0, 2).reshape(k, t * c) / k  # (N, C, T·C)
    h_joint = -torch.sum(torch.xlogy(joint, joint), dim=(-2, -1)) / t
    return (marginal_entropy(pp) + marginal_entropy(pt).mean() - h_joint).double().numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_epig_equals_the_definition_in_float64(seed):
    pool, target = _probs(6, 9, 4, seed=seed), _probs(6, 5, 4, seed=seed + 10)
    got = epig_scores(pool, target)
    np.testing.assert_allclose(got, _brute_force(pool, target), rtol=0, atol=1e-9)
    assert got.std() > 1e-3  # distinct scores: the comparison ranks something


def test_epig_equals_the_reference_formulas_on_the_same_probabilities():
    pool = _probs(20, 300, 10, seed=3).astype(np.float32)
    target = pool[:, ::6]  # targets drawn from the pool, as target=pool does
    got = epig_scores(pool, target)
    np.testing.assert_allclose(got, _reference_kl_form(pool, target), rtol=0, atol=1e-6)
    np.testing.assert_allclose(got, _reference_matmul_form(pool, target), rtol=0, atol=1e-6)


def test_blocks_change_nothing(monkeypatch):
    import al_bench.strategies.epig as epig

    pool, target = _probs(5, 40, 3, seed=4), _probs(5, 7, 3, seed=5)
    whole = epig.epig_scores(pool, target)
    monkeypatch.setattr(epig, "_BLOCK_ELEMENTS", 1)  # one row per block
    np.testing.assert_allclose(epig.epig_scores(pool, target), whole, rtol=0, atol=1e-12)


def test_heldout_targets_come_from_the_same_passes(head_cache):
    cache, x, labeled = head_cache
    target = x[:40] + 0.05
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache, target=target)
    picks, _, got = select_batch("epig", view, 10, np.random.default_rng(0), params={"target": "heldout", "targets": 25},
                                 with_scores=True)
    # what the strategy draws: the passes' seed after the target rows, both from its stream
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(40, size=25, replace=False))
    seed = int(rng.integers(2**63))
    head = cache.current()
    ref = epig_scores(head.sample_proba(x[view.unlabeled], 20, seed), head.sample_proba(target[rows], 20, seed))
    np.testing.assert_allclose(got, ref[np.searchsorted(view.unlabeled, picks)], rtol=1e-12, atol=1e-15)


def test_heldout_without_targets_is_a_user_error(head_cache):
    cache, x, labeled = head_cache
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    with pytest.raises(UserError, match="heldout needs held-out inputs"):
        select_batch("epig", view, 5, np.random.default_rng(0), params={"target": "heldout"})
    with pytest.raises(UserError, match="pool, heldout"):
        select_batch("epig", view, 5, np.random.default_rng(0), params={"target": "test"})


def _distractor_view(seed):
    """Three served classes in features 0-1; a fourth, in the pool only, in features 2-7 (the
    served items are near 0 there): information about its weights does not change the served
    predictions. Two labels per class."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), 150)
    x = np.zeros((len(y), 8))
    served = y < 3
    x[served, :2] = np.array([[0, 0], [3, 0], [0, 3]])[y[served]] + rng.normal(scale=1.2, size=(served.sum(), 2))
    x[served, 2:] = rng.normal(scale=0.1, size=(served.sum(), 6))
    x[~served, 2:] = 2.0 + rng.normal(scale=1.5, size=((~served).sum(), 6))
    x = x.astype(np.float32)
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.2)
    heldout = split.calibration[y[split.calibration] != 3]
    oracle = ModelOracle(x[split.pool], y[split.pool], x[heldout], y[heldout], 4, default_head, seed=0)
    yp = y[split.pool]
    labeled = np.concatenate([np.flatnonzero(yp == c)[:2] for c in range(4)])
    oracle.update(labeled)
    view = PoolView(x[split.pool], labeled, np.setdiff1d(np.arange(len(yp)), labeled), 4, 1, oracle, target=x[heldout])
    return view, yp


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_heldout_targets_avoid_a_class_the_model_will_not_serve():
    """BALD buys labels of the pool-only class (the parameters it informs are uncertain); EPIG
    with held-out targets of the served classes buys none."""
    on_distractor = {"bald": 0, "epig": 0}
    for seed in (0, 1, 2):
        view, yp = _distractor_view(seed)
        for name, params in (("bald", {}), ("epig", {"target": "heldout"})):
            picks = select_batch(name, view, 30, np.random.default_rng(1), params=params)[0]
            on_distractor[name] += int((yp[picks] == 3).sum())
    assert on_distractor["epig"] == 0 < on_distractor["bald"]


def test_heldout_without_a_calibration_split_fails_before_any_job():
    from al_bench.cli.run import ConfigCheckError, settings_from
    from support import compose_config

    with pytest.raises(ConfigCheckError, match="calibration_fraction is 0: give it a share"):
        settings_from(compose_config("strategy=epig", "strategy.params.target=heldout", "dataset.calibration_fraction=0"))
    ok = settings_from(compose_config("strategy=epig", "strategy.params.target=heldout"))[0]
    assert ok.strategy.params["target"] == "heldout"
