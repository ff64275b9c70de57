"""The ALGES array functions of the segmentation recipes: k-means++ seeding on ALGES embeddings, and
the ALGES shortlist + k-center (the ranked batch kernel the ``ranked_batch`` recipe runs is tested
in tests/kernels/test_ranked_batch.py)."""

import numpy as np
import pytest

from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.segmentation.recipes.alges import select_alges
from al_bench.segmentation.recipes.alges_coreset import select_alges_coreset

# ---------------------------------------------------------------- select_alges


def test_select_alges_picks_distinct_indices_max_norm_first_deterministic_per_seed():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(300, 12)) * rng.uniform(0.1, 3.0, (300, 1))
    picks = select_alges(emb, 40, np.random.default_rng(7))
    assert picks.shape == (40,) and len(set(picks.tolist())) == 40
    assert picks.min() >= 0 and picks.max() < 300
    assert picks[0] == int(np.argmax(np.linalg.norm(emb, axis=1)))
    np.testing.assert_array_equal(picks, select_alges(emb, 40, np.random.default_rng(7)))
    assert not np.array_equal(picks, select_alges(emb, 40, np.random.default_rng(8)))
    assert select_alges(emb, 0, np.random.default_rng(0)).shape == (0,)


def test_select_alges_covers_far_apart_groups():
    """D² seeding on three tight, far-apart groups of embeddings takes one image from each."""
    rng = np.random.default_rng(1)
    centers = np.array([[50.0, 0, 0], [0, 50.0, 0], [0, 0, 50.0]])
    group = np.repeat(np.arange(3), 30)
    emb = centers[group] + rng.normal(0, 0.01, (90, 3))
    for seed in range(5):
        assert sorted(group[select_alges(emb, 3, np.random.default_rng(seed))].tolist()) == [0, 1, 2]


@pytest.mark.parametrize("args, match", [
    ((np.ones(5), 2), r"embeddings must be \(N, E\)"),
    ((np.ones((5, 3)), 6), "cannot pick n=6 from 5"),
    ((np.ones((5, 3)), -1), "cannot pick n=-1"),
    ((np.ones((5, 3)), 1.5), "n must be an integer"),
])
def test_select_alges_rejects_bad_shapes_and_counts(args, match):
    with pytest.raises(ValueError, match=match):
        select_alges(*args, np.random.default_rng(0))
    with pytest.raises(ValueError, match="first must be"):
        select_alges(np.ones((5, 3)), 2, np.random.default_rng(0), first="min_norm")


# ---------------------------------------------------------------- select_alges_coreset


@pytest.mark.parametrize("labeled", [0, 15])
def test_alges_coreset_is_kcenter_on_the_alges_candidates(labeled):
    """The same as select_alges for ⌈factor · n⌉ candidates, then kcenter_greedy run directly on
    their features (seeded by the labeled features; without any, first pick from the same rng)."""
    rng = np.random.default_rng(2)
    N, n, factor = 400, 10, 3.5
    emb = rng.normal(size=(N, 24))
    feats = rng.normal(size=(N, 6)).astype(np.float32)
    lab = rng.normal(size=(labeled, 6)).astype(np.float32) if labeled else None
    got = select_alges_coreset(emb, feats, n, np.random.default_rng(5), candidate_factor=factor, labeled_features=lab)

    g = np.random.default_rng(5)
    cand = select_alges(emb, 35, g)
    if lab is None:
        expected = cand[kcenter_greedy(feats[cand], None, n, g)]
    else:
        expected = cand[kcenter_greedy(np.concatenate([lab, feats[cand]]), np.arange(labeled), n) - labeled]
    np.testing.assert_array_equal(got, expected)
    assert len(set(got.tolist())) == n and set(got.tolist()) <= set(cand.tolist())


def test_alges_coreset_with_factor_one_reorders_the_alges_picks():
    rng = np.random.default_rng(3)
    emb, feats = rng.normal(size=(200, 8)), rng.normal(size=(200, 4))
    got = select_alges_coreset(emb, feats, 12, np.random.default_rng(1), candidate_factor=1,
                               labeled_features=rng.normal(size=(5, 4)))
    assert sorted(got.tolist()) == sorted(select_alges(emb, 12, np.random.default_rng(1)).tolist())


def test_alges_coreset_caps_the_shortlist_at_the_pool_and_stays_away_from_labeled():
    """With factor · n ≥ N every image is a candidate; a candidate at a labeled point's spot is
    picked last."""
    rng = np.random.default_rng(4)
    feats = rng.normal(size=(30, 3))
    lab = feats[[7]] + 1e-3
    got = select_alges_coreset(rng.normal(size=(30, 5)), feats, 30, np.random.default_rng(0),
                               candidate_factor=10, labeled_features=lab)
    assert sorted(got.tolist()) == list(range(30)) and got[-1] == 7


@pytest.mark.parametrize("kwargs, match", [
    ({"features": np.ones((9, 3))}, r"features must be \(N, d\) with one row per embedding"),
    ({"labeled_features": np.ones((2, 4))}, r"labeled_features must be \(L, 3\)"),
    ({"candidate_factor": 0.5}, "candidate_factor must be >= 1"),
    ({"n": 11}, "cannot pick n=11 from 10"),
])
def test_alges_coreset_rejects_bad_shapes(kwargs, match):
    args = {"embeddings": np.ones((10, 6)), "features": np.ones((10, 3)), "n": 2, "rng": np.random.default_rng(0)}
    with pytest.raises(ValueError, match=match):
        select_alges_coreset(**{**args, **kwargs})
