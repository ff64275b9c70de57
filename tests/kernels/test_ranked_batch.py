"""The ranked batch kernel (Cardoso et al. 2017: one greedy pass over (1 − w) · distance + w ·
uncertainty) against kcenter_greedy (w = 0), top-n (w = 1), hand-computed picks and a brute-force
reference. The classification strategy ``uncertainty_coreset`` and the segmentation recipe
``ranked_batch`` both run it."""

import numpy as np
import pytest

from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.kernels.ranked_batch import ranked_batch


def _clustered(N, d, rng, k=20):
    centers = rng.normal(0, 10, (k, d))
    return (centers[rng.integers(k, size=N)] + rng.normal(0, 0.3, (N, d))).astype(np.float32)


@pytest.mark.parametrize("kind, N, L, prune", [
    ("gaussian", 400, 0, None), ("gaussian", 400, 25, None),  # kcenter's dense path
    ("gaussian", 3000, 0, None), ("gaussian", 3000, 40, None),  # its lazy path by row blocks
    ("clustered", 600, 0, None), ("clustered", 600, 30, None),
    ("clustered", 5000, 0, True), ("clustered", 5000, 50, True),  # lazy with spatial pruning
])
def test_weight_zero_is_exactly_kcenter_greedy(kind, N, L, prune):
    rng = np.random.default_rng(N + L)
    d = 8
    x = _clustered(N + L, d, rng) if kind == "clustered" else rng.normal(size=(N + L, d)).astype(np.float32)
    lab, feats = x[:L], x[L:]
    u = rng.random(N)
    n = 40
    got = ranked_batch(feats, u, n, weight=0.0, labeled_features=lab if L else None)
    if L:
        expected = kcenter_greedy(x, np.arange(L), n, prune=prune) - L
    else:
        expected = kcenter_greedy(feats, None, n, prune=prune)  # no rng: first = farthest from the mean
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("L", [0, 10])
def test_weight_one_is_the_top_n_by_uncertainty(L):
    rng = np.random.default_rng(6)
    feats, u = rng.normal(size=(300, 5)), rng.random(300)
    lab = rng.normal(size=(L, 5)) if L else None
    got = ranked_batch(feats, u, 25, weight=1.0, labeled_features=lab)
    np.testing.assert_array_equal(got, np.argsort(u)[::-1][:25])


def test_hand_computed_picks_trade_uncertainty_against_distance():
    """Labeled point at the origin. A = (10, 0), u = 0; B = (1, 0), u = 1; C = (0, 8), u = .7.
    weight .5, step 1: d / max d = 1, .1, .8 and u = 0, 1, .7 → scores .5, .55, .75: C.
    Step 2: d = 10 (A), 1 (B) over max 10 → .5 (A), .05 + .5 = .55 (B): B, then A.
    weight 0: farthest first, A (10), then C (8 < 12.8) then B; weight 1: B, C, A."""
    feats = np.array([[10.0, 0.0], [1.0, 0.0], [0.0, 8.0]])
    u = np.array([0.0, 1.0, 0.7])
    lab = np.zeros((1, 2))
    assert ranked_batch(feats, u, 3, weight=0.5, labeled_features=lab).tolist() == [2, 1, 0]
    assert ranked_batch(feats, u, 3, weight=0.0, labeled_features=lab).tolist() == [0, 2, 1]
    assert ranked_batch(feats, u, 3, weight=1.0, labeled_features=lab).tolist() == [1, 2, 0]


def test_hand_computed_picks_without_labeled_rows():
    """P0 = (0, 0) u 1, P1 = (1, 0) u .9, P2 = (6, 0) u 0, P3 = (0, 3) u .5; weight .3.
    First: the most uncertain, P0. Then d = 1, 6, 3 over 6; scores .7 d/6 + .3 u: P1 .387, P2 .7,
    P3 .5: P2. Then d(P1) = 1, d(P3) = 3 over 3: P1 .233 + .27 = .503, P3 .7 + .15 = .85: P3, P1.
    weight 0 (k-center from the point farthest from the mean (1.75, .75)): P2, P3, P1, P0."""
    feats = np.array([[0.0, 0.0], [1.0, 0.0], [6.0, 0.0], [0.0, 3.0]])
    u = np.array([1.0, 0.9, 0.0, 0.5])
    assert ranked_batch(feats, u, 4, weight=0.3).tolist() == [0, 2, 3, 1]
    assert ranked_batch(feats, u, 4, weight=0.0).tolist() == [2, 3, 1, 0]
    assert ranked_batch(feats, u, 4, weight=1.0).tolist() == [0, 1, 3, 2]


def _brute_force(feats, u, n, weight, lab):
    """The greedy pass recomputed from scratch at every step: all distances to every center."""
    x = np.asarray(feats, np.float32).astype(np.float64)
    centers = [] if lab is None else list(np.asarray(lab, np.float32).astype(np.float64))
    un = (u - u.min()) / (u.max() - u.min())
    picks = []
    for _ in range(n):
        rest = np.array([i for i in range(len(x)) if i not in picks])
        if not centers:
            j = rest[np.argmax(un[rest])]
        else:
            d = np.sqrt(((x[rest, None, :] - np.array(centers)[None]) ** 2).sum(-1)).min(1)
            score = (1 - weight) * d / d.max() + weight * un[rest]
            j = rest[np.argmax(score)]
        picks.append(int(j))
        centers.append(x[j])
    return picks


@pytest.mark.parametrize("weight", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("L", [0, 12])
def test_intermediate_weights_match_a_brute_force_recomputation(weight, L):
    rng = np.random.default_rng(int(weight * 10) + L)
    feats, u = rng.normal(size=(150, 4)), rng.random(150)
    lab = rng.normal(size=(L, 4)) if L else None
    got = ranked_batch(feats, u, 30, weight=weight, labeled_features=lab)
    assert got.tolist() == _brute_force(feats, u, 30, weight, lab)


def test_more_weight_buys_more_uncertainty_and_less_spread():
    """On the same pool, the picks' mean uncertainty rises and their smallest pairwise distance
    falls from weight 0 to weight 1."""
    rng = np.random.default_rng(9)
    feats = rng.normal(size=(500, 3))
    u = np.exp(-np.linalg.norm(feats - 1.0, axis=1))  # uncertainty concentrated in one region
    mean_u, spread = [], []
    for w in (0.0, 0.5, 1.0):
        p = ranked_batch(feats, u, 20, weight=w)
        mean_u.append(u[p].mean())
        dist = np.linalg.norm(feats[p, None] - feats[None, p], axis=-1)
        spread.append(dist[np.triu_indices(20, 1)].min())
    assert mean_u[0] < mean_u[1] < mean_u[2]
    assert spread[0] > spread[1] > spread[2]


@pytest.mark.parametrize("kwargs, match", [
    ({"uncertainty": np.ones(9)}, r"uncertainty must be \(N,\) = \(10,\)"),
    ({"uncertainty": np.full(10, np.nan)}, "uncertainty contains NaN"),
    ({"features": np.ones(10)}, r"features must be \(N, d\)"),
    ({"weight": 1.5}, r"weight must lie in \[0, 1\]"),
    ({"weight": -0.1}, r"weight must lie in \[0, 1\]"),
    ({"n": 11}, "cannot pick n=11 from 10"),
    ({"labeled_features": np.ones((3, 2))}, r"labeled_features must be \(L, 4\)"),
])
def test_ranked_batch_rejects_bad_inputs(kwargs, match):
    args = {"features": np.random.default_rng(0).normal(size=(10, 4)), "uncertainty": np.arange(10.0), "n": 3}
    with pytest.raises(ValueError, match=match):
        ranked_batch(**{**args, **kwargs})


def test_ranked_batch_edge_cases():
    """n = 0; equal uncertainties (u normalizes to 0: pure distance after the first pick);
    duplicate rows (all remaining distances 0: the most uncertain next)."""
    feats = np.random.default_rng(0).normal(size=(6, 2))
    assert ranked_batch(feats, np.ones(6), 0).shape == (0,)
    flat = ranked_batch(feats, np.ones(6), 6, weight=0.5)
    assert flat[0] == 0 and flat[1:].tolist() == kcenter_greedy(feats, [0], 5).tolist()
    dup = np.zeros((4, 2))
    assert ranked_batch(dup, np.array([0.1, 0.4, 0.3, 0.2]), 4, weight=0.5).tolist() == [1, 2, 3, 0]
