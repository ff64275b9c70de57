"""The kernels' public input checks (what the segmentation recipes check their arrays with)."""

import numpy as np
import pytest

from al_bench.kernels.checks import check_count, check_features, check_labeled_features


def test_check_features_gives_contiguous_float32_and_names_the_first_bad_row():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    out = check_features(x)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.tolist() == x.tolist()
    with pytest.raises(ValueError, match=r"^emb contain NaN or infinite values \(first in row 2\)$"):
        check_features(np.where(np.arange(6)[:, None] == 2, np.inf, 0.0), "emb")
    with pytest.raises(ValueError, match=r"features must be \(N, d\)"):
        check_features(np.ones(3))


@pytest.mark.parametrize("n, ok", [(0, True), (5, True), (3.0, True), (6, False), (-1, False), (1.5, False),
                                   (True, False)])
def test_check_count(n, ok):
    if ok:
        assert check_count(n, 5) == int(n) and type(check_count(n, 5)) is int
    else:
        with pytest.raises(ValueError, match="n must be an integer|cannot pick"):
            check_count(n, 5)


def test_check_labeled_features():
    assert check_labeled_features(None, 3) is None and check_labeled_features(np.ones((0, 3)), 3) is None
    assert check_labeled_features(np.ones((2, 3), np.float64), 3).dtype == np.float32
    with pytest.raises(ValueError, match=r"labeled_features must be \(L, 3\)"):
        check_labeled_features(np.ones((2, 4)), 3)
    with pytest.raises(ValueError, match="labeled_features contain NaN"):
        check_labeled_features(np.full((2, 3), np.nan), 3)
