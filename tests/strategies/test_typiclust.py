"""TypiClust against its definition: least-covered (then largest) cluster first, its most typical
unlabeled point, typicality = 1 / mean distance to the k nearest neighbours in the cluster."""

import numpy as np

from al_bench.kernels.kmeans import kmeans
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.typiclust import typicality


def _blobs():
    """Four far-apart blobs of 60, 40, 25 and 3 points in 5-D."""
    rng = np.random.default_rng(1)
    sizes = [60, 40, 25, 3]
    centers = np.eye(5)[:4] * 100.0
    x = np.concatenate([c + rng.normal(0, 1.0, (s, 5)) for c, s in zip(centers, sizes)]).astype(np.float32)
    blob = np.repeat(np.arange(4), sizes)
    return x, blob


def test_typicality_is_the_inverse_mean_knn_distance():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(30, 4))
    rows = np.array([0, 7, 29])
    t = typicality(p, rows, 5)
    for i, r in enumerate(rows):
        d = np.sort(np.linalg.norm(p - p[r], axis=1))[1:6]  # without itself
        np.testing.assert_allclose(t[i], 1.0 / d.mean())


def test_kmeans_recovers_separated_blobs_and_is_deterministic():
    x, blob = _blobs()
    _, a = kmeans(x, 4, np.random.default_rng(0))
    _, b = kmeans(x, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    for g in range(4):  # each blob is one cluster
        assert np.unique(a[blob == g]).size == 1
    assert np.unique(a).size == 4


def test_picks_the_most_typical_point_of_each_uncovered_cluster_largest_first():
    x, blob = _blobs()
    labeled = np.array([0])  # blob 0 is covered
    view = PoolView(x, labeled, np.arange(1, len(x)), 2, 0)
    picks, _, scores = select_batch("typiclust", view, 3, np.random.default_rng(0), with_scores=True)
    # 1 labeled + 3 picks = 4 clusters = the 4 blobs; uncovered: blobs 1 (40), 2 (25), 3 (3 < 5: last resort)
    assert blob[picks].tolist() == [1, 2, 0]  # then blob 0 (covered once) before the 3-point blob
    for pick, score in zip(picks, scores):
        members = np.flatnonzero(blob == blob[pick])
        cand = np.setdiff1d(members, labeled)
        t = typicality(x[members], np.searchsorted(members, cand), 20)
        assert pick == cand[np.argmax(t)]
        np.testing.assert_allclose(score, t.max())
