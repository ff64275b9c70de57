"""kmeans_centroids: the member nearest each k-means centroid, largest cluster first; by
default on L2-normalized rows."""

import numpy as np

from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.probcover import unit_rows


def _blobs(rng):
    centers = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    sizes = [30, 20, 10]
    x = np.concatenate([c + rng.normal(0, 0.05, (k, 3)) for c, k in zip(centers, sizes)]).astype(np.float32)
    return x, np.repeat(np.arange(3), sizes)


def test_one_pick_per_cluster_largest_first_nearest_its_centroid():
    x, blob = _blobs(np.random.default_rng(0))
    view = PoolView(x, np.empty(0, np.int64), np.arange(len(x)), 3, 0)
    picks, _, scores = select_batch("kmeans_centroids", view, 3, np.random.default_rng(0),
                                    params={"normalize": False}, with_scores=True)
    assert blob[picks].tolist() == [0, 1, 2] and scores.tolist() == [30.0, 20.0, 10.0]
    for p in picks:  # the member nearest its blob's mean (k-means converges to it on such blobs)
        members = np.flatnonzero(blob == blob[p])
        assert p == members[np.argmin(((x[members] - x[members].mean(0)) ** 2).sum(1))]


def test_normalize_is_the_same_strategy_on_unit_rows():
    rng = np.random.default_rng(1)
    x, _ = _blobs(rng)
    x = x * rng.uniform(0.2, 5.0, (len(x), 1)).astype(np.float32)  # lengths vary, directions cluster
    unl = np.arange(len(x))
    default = select_batch("kmeans_centroids", PoolView(x, np.empty(0, np.int64), unl, 3, 0), 3,
                           np.random.default_rng(0))[0]
    raw_on_unit = select_batch("kmeans_centroids", PoolView(unit_rows(x), np.empty(0, np.int64), unl, 3, 0), 3,
                               np.random.default_rng(0), params={"normalize": False})[0]
    np.testing.assert_array_equal(default, raw_on_unit)
