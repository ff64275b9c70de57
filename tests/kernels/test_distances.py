"""nearest_center and pick_distances against float64 brute force; the feature check."""

import numpy as np
import pytest

from al_bench.kernels.distances import nearest_center, pick_distances
from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.kernels.kmeanspp import kmeans_pp, kmeans_pp_factored


def brute_sq_dist(x, c):
    """Reference: float64 difference form, (N, M)."""
    x, c = x.astype(np.float64), c.astype(np.float64)
    return ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)


def test_nearest_center_matches_float64_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 9)).astype(np.float32)
    c = rng.normal(size=(40, 9)).astype(np.float32)
    d, j = nearest_center(x, c)
    ref = brute_sq_dist(x, c)
    assert d.dtype == np.float32 and j.dtype == np.int32
    np.testing.assert_allclose(d, ref.min(1), rtol=1e-5, atol=1e-6)
    # the chosen center is the nearest one, up to float32 rounding of the distances
    np.testing.assert_allclose(ref[np.arange(len(x)), j], ref.min(1), rtol=1e-5, atol=1e-6)


def test_nearest_center_is_exact_at_a_center_and_ties_go_to_the_lowest_index():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1e4, 1e4 + 1]], np.float32)
    c = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [1e4, 1e4 + 1]], np.float32)  # 1 and 2 equal
    d, j = nearest_center(x, c)
    assert d.tolist() == [0.0, 0.0, 0.0]  # difference form: exactly 0, even at large norms
    assert j.tolist() == [1, 0, 3]


def test_nearest_center_of_some_rows_and_of_no_centers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    c = x[[4, 20]]
    rows = np.array([1, 2, 3, 30])
    d, j = nearest_center(x, c, rows)
    full_d, full_j = nearest_center(x, c)
    assert d[rows].tolist() == full_d[rows].tolist() and j[rows].tolist() == full_j[rows].tolist()
    rest = np.setdiff1d(np.arange(50), rows)
    assert np.isinf(d[rest]).all() and (j[rest] == -1).all()
    d, j = nearest_center(x, c[:0])
    assert np.isinf(d).all() and (j == -1).all()


@pytest.mark.parametrize("n_labeled", [0, 25])
def test_pick_distances_match_float64_brute_force(n_labeled):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    order = rng.permutation(300)
    labeled, picks = order[:n_labeled], order[n_labeled : n_labeled + 60]
    got = pick_distances(x, picks, labeled)
    ref = np.empty(picks.size)
    for i, p in enumerate(picks):
        before = np.concatenate([labeled, picks[:i]]).astype(np.int64)
        ref[i] = np.sqrt(brute_sq_dist(x[[p]], x[before]).min()) if before.size else np.inf
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_kernels_reject_nan_features_naming_the_row():
    x = np.ones((10, 3), np.float32)
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        kcenter_greedy(x, np.array([0]), 2)
    with pytest.raises(ValueError, match="row 7"):
        kmeans_pp(x, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="row 7"):
        kmeans_pp_factored(np.ones((10, 2), np.float32), x, 2, np.random.default_rng(0))
