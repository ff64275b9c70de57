"""ModelOracle's dropout passes for DropQuery: the current head's, on the asked pool rows."""

import numpy as np
import pytest


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


def test_class_metrics_on_a_hand_computed_case():
    """Three classes, a fourth absent from the test split: recalls 2/3, 1/2, 0/1; F1 per held
    class 2·TP / (2·TP + FP + FN)."""
    from al_bench.loop.oracle import class_metrics

    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 0, 1])
    m = class_metrics(pred, y, ("a", "b", "c", "d"))
    assert m["recall_a"] == pytest.approx(2 / 3) and m["recall_b"] == 0.5 and m["recall_c"] == 0.0
    assert np.isnan(m["recall_d"])  # not in the test split: no recall, and not in the means
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # a: TP 2, FP 1, FN 1 → 4/6; b: TP 1, FP 2, FN 1 → 2/5; c: TP 0 → 0
    assert m["macro_f1"] == pytest.approx((4 / 6 + 2 / 5 + 0) / 3)
    assert m["worst_class_recall"] == 0.0
