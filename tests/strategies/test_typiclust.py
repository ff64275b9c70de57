"""TypiClust against its definition: least-covered (then largest) cluster first, its most typical
unlabeled point, typicality = 1 / mean distance to the k nearest unlabeled points of the cluster,
k = min(k_neighbors, half of them)."""

import numpy as np

from al_bench.kernels.kmeans import kmeans
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.typiclust import typicality

# the definition on the embeddings as given (the default clusters L2-normalized rows)
RAW = {"normalize": False}


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
    picks, _, scores = select_batch("typiclust", view, 3, np.random.default_rng(0), params=RAW, with_scores=True)
    # 1 labeled + 3 picks = 4 clusters = the 4 blobs; uncovered: blobs 1 (40), 2 (25), 3 (3 < 5: last resort)
    assert blob[picks].tolist() == [1, 2, 0]  # then blob 0 (covered once) before the 3-point blob
    taken = set(labeled.tolist())
    for pick, score in zip(picks, scores):
        # neighbours: the blob's unlabeled points not picked before; k = min(20, half of them)
        cand = np.array([i for i in np.flatnonzero(blob == blob[pick]) if i not in taken])
        d = np.linalg.norm(x[cand, None, :].astype(np.float64) - x[None, cand, :], axis=2)
        k = min(20, cand.size // 2)
        t = 1.0 / np.sort(d, axis=1)[:, 1 : k + 1].mean(axis=1)  # column 0 is the point itself
        assert pick == cand[np.argmax(t)]
        np.testing.assert_allclose(score, t.max())
        taken.add(int(pick))


def _line(*xs):
    return np.array([[v, 0.0] for v in xs], np.float32)


def test_typicality_picks_the_densest_point_of_the_emptiest_cluster():
    """Two far-apart clusters of 6: A (tight, one point labeled) and B (a centre and a ring of
    5 at radius 1). B is the emptiest, and its centre the densest: the mean distance to its 3
    (= 6 // 2) nearest is 1, a ring point's is (1 + 2 · 2 sin 36°) / 3 ≈ 1.12."""
    ring = np.array([[np.cos(a), np.sin(a)] for a in np.deg2rad(np.arange(5) * 72.0)])
    b = np.concatenate([[[0.0, 0.0]], ring]) + [100.0, 0.0]
    a = 0.1 * np.concatenate([[[0.0, 0.0]], ring])  # denser than B, but already labeled once
    x = np.concatenate([a, b]).astype(np.float32)
    labeled = np.array([1])
    view = PoolView(x, labeled, np.setdiff1d(np.arange(12), labeled), 2, 0)
    picks, _, scores = select_batch("typiclust", view, 1, np.random.default_rng(0), params=RAW, with_scores=True)
    assert picks.tolist() == [6]  # B's centre
    np.testing.assert_allclose(scores, [1.0], rtol=1e-5)


def test_typicality_uses_half_the_cluster_and_only_its_unlabeled_points():
    """One cluster (max_clusters=1): a tight triple at 0, 0.1, 0.2, spread points at 1, 2, 3 and
    four labeled points around 3. With k = 6 // 2 = 3 among the unlabeled, 0.1 is the most
    typical (mean 0.367; the point at 3: 1.5). Counting the labeled points as neighbours would
    make 3 the densest; k = 5 (all the others) would favour the central point at 1."""
    x = _line(0.0, 0.1, 0.2, 1.0, 2.0, 3.0, 2.9, 2.95, 3.05, 3.1)
    labeled = np.arange(6, 10)
    view = PoolView(x, labeled, np.arange(6), 2, 0)
    picks, _, scores = select_batch("typiclust", view, 1, np.random.default_rng(0), params={**RAW, "max_clusters": 1},
                                    with_scores=True)
    assert picks.tolist() == [1]
    np.testing.assert_allclose(scores, [1.0 / ((0.1 + 0.1 + 0.9) / 3)], rtol=1e-6)


def test_normalize_clusters_the_rows_by_direction():
    """normalize (the default) equals the definition run on L2-normalized rows; rows that differ
    only in length are then the same point."""
    from al_bench.strategies.probcover import unit_rows

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 0.05, (40, 2)) + [1, 0], rng.normal(0, 0.05, (40, 2)) + [0, 1]])
    x = (x * rng.uniform(0.2, 5.0, (80, 1))).astype(np.float32)  # lengths vary, directions cluster
    unl = np.arange(80)
    default = select_batch("typiclust", PoolView(x, np.empty(0, np.int64), unl, 2, 0), 2, np.random.default_rng(0))[0]
    by_hand = select_batch("typiclust", PoolView(unit_rows(x), np.empty(0, np.int64), unl, 2, 0), 2,
                           np.random.default_rng(0), params=RAW)[0]
    np.testing.assert_array_equal(default, by_hand)
    assert sorted(p // 40 for p in default) == [0, 1]  # one pick per direction
