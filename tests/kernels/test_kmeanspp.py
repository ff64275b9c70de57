"""k-means++ seeding: draws follow D² exactly (also with stale blocks); the factored form equals the explicit one."""

import numpy as np
import pytest

from al_bench.kernels import kmeanspp
from al_bench.kernels.kmeanspp import kmeans_pp, kmeans_pp_factored


def test_kmeans_pp_picks_a_lone_far_point_second():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (300, 8)), [[50.0] * 8]]).astype(np.float32)
    hits = sum(300 in kmeans_pp(x, 2, np.random.default_rng(s)).tolist() for s in range(200))
    assert hits >= 198


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_kmeans_pp_draws_follow_d2():
    x = np.array([[10.0, 0], [11.0, 0], [10.0, 2.0], [10.0, -4.0]], np.float32)
    counts = np.zeros(4)
    for s in range(3000):
        counts[kmeans_pp(x, 2, np.random.default_rng(s), first="max_norm")[1]] += 1
    # max_norm picks index 1 (‖(11, 0)‖ = 11 is largest) first; D² to it: 1, 0, 5, 17
    d2 = np.array([1.0, 0.0, 5.0, 17.0])
    np.testing.assert_allclose(counts / 3000, d2 / d2.sum(), atol=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("row_check_max, loose", [(2048, 128), (1, 0)])
def test_kmeans_pp_later_draws_follow_d2_with_stale_blocks(monkeypatch, row_check_max, loose):
    """Draw 4 of 4 from blocks that missed centers (rejection path; with (1, 0) every stale
    proposal or rejection updates its block): conditional frequencies equal D² to the picks."""
    # blocks of 3 rows, so a 10-point pool has stale blocks after the first picks; the two
    # (row check, loose) pairs reach the row check and the block update
    monkeypatch.setattr(kmeanspp, "_KPP_BLOCK", 3)
    monkeypatch.setattr(kmeanspp, "_ROW_CHECK_MAX", row_check_max)
    monkeypatch.setattr(kmeanspp, "_LOOSE", loose)
    x = np.array([[0, 0], [1, 0], [3, 0], [0, 2], [5, 5], [6, 5], [9, 0], [9, 1], [2, 7], [4, 3]], np.float32)
    runs = np.array([kmeans_pp(x, 4, np.random.default_rng(s), first="max_norm") for s in range(12000)])
    prefixes, counts = np.unique(runs[:, :3], axis=0, return_counts=True)
    prefix = prefixes[counts.argmax()]  # the most frequent first three picks
    last = runs[(runs[:, :3] == prefix).all(1), 3]
    d2 = ((x[:, None, :].astype(float) - x[prefix][None]) ** 2).sum(-1).min(1)
    freq = np.bincount(last, minlength=len(x)) / last.size
    assert last.size > 600
    np.testing.assert_allclose(freq, d2 / d2.sum(), atol=4 / np.sqrt(last.size))


def test_kmeans_pp_all_zero_distances_fall_back_to_uniform():
    x = np.ones((20, 3), np.float32)
    picks = kmeans_pp(x, 20, np.random.default_rng(0))
    assert sorted(picks.tolist()) == list(range(20))


def test_factored_distances_and_draws_equal_the_explicit_ones():
    """g_i = a_i ⊗ x_i (BADGE's gradient embeddings, in the strategy's own factors)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    logits = rng.normal(size=(40, 4))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    a = p - np.eye(4)[p.argmax(1)]
    g = (a[:, :, None] * x[:, None, :]).reshape(len(x), -1)
    # ‖g_i − g_j‖² = ‖a_i‖²‖x_i‖² + ‖a_j‖²‖x_j‖² − 2 (a_i·a_j)(x_i·x_j), the identity the kernel uses
    gsq = (a * a).sum(1) * (x * x).sum(1)
    fact = gsq[:, None] + gsq[None, :] - 2 * (a @ a.T) * (x @ x.T)
    explicit = ((g[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(fact, explicit, atol=1e-9)
    # and k-means++ on the factors makes the same draws as on the explicit matrix
    f = kmeans_pp_factored(a, x, 10, np.random.default_rng(5), first="max_norm")
    e = kmeans_pp(g, 10, np.random.default_rng(5), first="max_norm")
    assert f.tolist() == e.tolist()
    assert f[0] == int(gsq.argmax())  # max_norm: the largest ‖g‖ first


def test_kmeans_pp_checks_its_arguments():
    x = np.ones((5, 2), np.float32)
    with pytest.raises(ValueError, match="cannot pick"):
        kmeans_pp(x, 6, np.random.default_rng(0))
    with pytest.raises(ValueError, match="first must be"):
        kmeans_pp(x, 2, np.random.default_rng(0), first="farthest")
    with pytest.raises(ValueError, match="rows"):
        kmeans_pp_factored(np.ones((4, 3), np.float32), x, 2, np.random.default_rng(0))
    assert kmeans_pp(x, 0, np.random.default_rng(0)).tolist() == []
