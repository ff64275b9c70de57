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


def test_a_class_with_few_test_items_is_named_with_what_one_item_moves():
    from al_bench.loop.oracle import class_metrics, thin_test_classes

    names = ("sunny", "rain", "night", "fog", "absent")
    y = np.array([0] * 30 + [1] * 26 + [2] * 23 + [3] * 1)  # 'absent' has no test item: not held, not named
    assert thin_test_classes(y, names) == (
        "test split: 1 class(es) with fewer than 10 test items ('fog' 1): one test image of 'fog' moves its recall "
        "by 100 points and balanced accuracy by 25.0, so per-class metrics (balanced_accuracy, macro_f1, "
        "worst_class_recall, recall_<class>) are coarse here; a larger dataset.test_fraction, where the dataset "
        "has one, gives them more items")
    # balanced accuracy really moves by 25 points when that one image is predicted right
    pred = y.copy()
    pred[-1] = 0
    moved = class_metrics(y, y, names)["balanced_accuracy"] - class_metrics(pred, y, names)["balanced_accuracy"]
    assert moved == pytest.approx(0.25)
    assert thin_test_classes(np.repeat(np.arange(4), 10), names[:4]) is None
    two = thin_test_classes(np.array([0] * 20 + [1] * 3 + [2] * 2), names[:3])
    assert two.startswith("test split: 2 class(es) with fewer than 10 test items ('night' 2, 'rain' 3): one test "
                          "image of 'night' moves its recall by 50 points and balanced accuracy by 16.7,")
