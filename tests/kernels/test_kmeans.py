"""Lloyd's k-means (al_bench.kernels.kmeans): deterministic for a given rng, recovers separated
blobs, returns what it promises (shapes, dtypes, centers = cluster means), and refuses a bad k."""

import numpy as np
import pytest

from al_bench.kernels import kmeans as kmeans_module
from al_bench.kernels.kmeans import kmeans


def _blobs(per=40, d=5, seed=0):
    """Three tight blobs 100 apart: (x (3·per, d) float32, blob of each row)."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0] * d, [100.0] + [0.0] * (d - 1), [0.0, 100.0] + [0.0] * (d - 2)])
    blob = np.repeat(np.arange(3), per)
    x = (means[blob] + rng.normal(0, 1, (3 * per, d))).astype(np.float32)
    perm = rng.permutation(len(x))
    return x[perm], blob[perm]


def test_same_rng_same_result():
    x, _ = _blobs()
    c1, a1 = kmeans(x, 4, np.random.default_rng(3))
    c2, a2 = kmeans(x, 4, np.random.default_rng(3))
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(a1, a2)


def test_separated_blobs_are_recovered_with_their_means_as_centers():
    x, blob = _blobs()
    x_before = x.copy()
    centers, assign = kmeans(x, 3, np.random.default_rng(0))
    assert centers.shape == (3, 5) and centers.dtype == np.float32
    assert assign.shape == (len(x),) and assign.dtype == np.int64
    # the same partition as the blobs, whatever the cluster numbering
    pairs = set(zip(blob.tolist(), assign.tolist()))
    assert len(pairs) == 3 and len({b for b, _ in pairs}) == 3 and len({a for _, a in pairs}) == 3
    for c in range(3):
        np.testing.assert_allclose(centers[c], x[assign == c].astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(x, x_before)  # input untouched


def test_stops_once_no_assignment_changes(monkeypatch):
    x, _ = _blobs()
    calls = []
    real = kmeans_module.nearest_center

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(kmeans_module, "nearest_center", counting)
    kmeans(x, 3, np.random.default_rng(0), iters=20)
    # k-means++ seeds one center per blob: the first assignment is final, the second pass confirms it
    assert len(calls) == 2


def test_one_cluster_is_the_mean_and_n_clusters_is_every_point():
    x, _ = _blobs(per=5)
    centers, assign = kmeans(x, 1, np.random.default_rng(0))
    np.testing.assert_allclose(centers[0], x.astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-4)
    assert (assign == 0).all()
    centers, assign = kmeans(x, len(x), np.random.default_rng(0))
    assert sorted(assign.tolist()) == list(range(len(x)))
    np.testing.assert_array_equal(centers[assign], x)


@pytest.mark.parametrize("k", [0, -1, 16])
def test_k_outside_one_to_n_is_refused(k):
    x, _ = _blobs(per=5)
    with pytest.raises(ValueError, match="1 <= k <= N = 15"):
        kmeans(x, k, np.random.default_rng(0))


def test_an_empty_cluster_keeps_its_center_instead_of_nan():
    # three identical rows and one far row, k = 3: two centers land on the same point, one of
    # them gets no rows after the first assignment and must keep its center (no 0/0)
    x = np.array([[0, 0], [0, 0], [0, 0], [5, 5]], np.float32)
    centers, assign = kmeans(x, 3, np.random.default_rng(0))
    assert np.isfinite(centers).all()
    assert sorted(map(tuple, centers.tolist())) == [(0.0, 0.0), (0.0, 0.0), (5.0, 5.0)]
    assert assign[3] != assign[0] and len(set(assign[:3].tolist())) == 1
