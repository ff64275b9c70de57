"""ModelOracle's dropout passes for DropQuery: the current head's, on the asked pool rows."""

import numpy as np


def test_feature_dropout_probs_are_the_current_heads_on_the_rows(head_cache):
    cache, x, labeled = head_cache
    cache.asked = False
    rows = np.array([40, 3, 17])
    got = cache.feature_dropout_probs(rows, 3, 0.5, 9)
    assert cache.asked  # the loop then fits the next head outside the timed selection
    assert got.shape == (3, 3, 3)
    np.testing.assert_array_equal(got, cache.current().feature_dropout_proba(x[rows], 3, 0.5, 9))
    # masks are drawn row by row in the order asked: the first row's passes do not depend on the rest
    np.testing.assert_array_equal(got[:, :1], cache.feature_dropout_probs(np.array([40]), 3, 0.5, 9))
    assert not np.allclose(got, cache.feature_dropout_probs(rows, 3, 0.5, 10))
