"""strategy.class_balance: the fallback aims part of a batch at a starving class, the predicted
quotas split it per predicted class; both read only the labels bought and the model's
predictions, never the hidden labels."""

import numpy as np
import pytest

from al_bench.strategies import PoolView, balanced_batch, select_batch, sub_view
from al_bench.strategies._balance import starving_classes


class _Fixed:
    """Model outputs fixed per pool position."""

    def __init__(self, probs):
        self.p = probs

    def probs(self, positions):
        return self.p[positions]


def _view(pred, labeled, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    p = np.full((len(pred), n_classes), 0.1)
    p[np.arange(len(pred)), pred] = 0.8
    p /= p.sum(1, keepdims=True)
    x = rng.normal(size=(len(pred), 4)).astype(np.float32)
    unl = np.setdiff1d(np.arange(len(pred)), labeled)
    return PoolView(x, np.asarray(labeled), unl, n_classes, 1, _Fixed(p))


def test_starving_is_a_quarter_of_the_estimated_share():
    counts = np.array([30, 10, 0])
    predicted = np.array([40, 10, 10])  # class 2: 10 of 100 items by estimate, 0 of 40 labels (4 expected)
    share, starving = starving_classes(counts, predicted, 40)
    assert share.tolist() == [0.7, 0.2, 0.1] and starving.tolist() == [2]


def test_fallback_aims_part_of_the_batch_at_the_starving_class():
    pred = np.array([0] * 60 + [1] * 30 + [2] * 10)
    labeled = np.arange(0, 40)  # all predicted 0 …
    labels = np.array([0] * 30 + [1] * 10)  # … and labeled 0 or 1: class 2 is starving
    view = _view(pred, labeled)
    picks, sources = balanced_batch("random", view, 10, np.random.default_rng(0), 0.0, {}, "fallback", labels)
    balance = picks[np.array(sources) == "balance"]
    assert 1 <= balance.size <= 5 and set(pred[balance]) == {2}  # at most half the batch, all predicted 2
    assert len(set(picks.tolist())) == 10 and not set(picks) & set(labeled)


def test_predicted_quotas_take_every_predicted_class():
    pred = np.array([0] * 80 + [1] * 15 + [2] * 5)
    view = _view(pred, np.arange(0, 80, 8))
    picks, sources = balanced_batch("kcenter", view, 9, np.random.default_rng(0), 0.0, {}, "predicted",
                                    np.zeros(10, np.int64))
    assert np.bincount(pred[picks], minlength=3).tolist() == [3, 3, 3] and set(sources) == {"strategy"}
    plain, _ = select_batch("kcenter", view, 9, np.random.default_rng(0))
    assert np.bincount(pred[plain], minlength=3)[0] > 3  # without quotas the head class dominates here


def test_a_sub_view_maps_model_outputs_and_picks_back():
    pred = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    view = _view(pred, [0, 3])
    sub, keep = sub_view(view, np.array([5, 2, 7]))
    assert keep.tolist() == [0, 2, 3, 5, 7] and sub.labeled.tolist() == [0, 2] and sub.unlabeled.tolist() == [1, 3, 4]
    np.testing.assert_array_equal(sub.probs(), view.model.probs(np.array([2, 5, 7])))
    np.testing.assert_array_equal(sub.embeddings, view.embeddings[keep])


@pytest.mark.parametrize("mode", ["fallback", "predicted"])
@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_loop_never_shows_the_hidden_labels(blobs, mode):
    """Two pools whose labels differ only on items not yet bought give the same first batch."""
    from al_bench.data import make_split
    from al_bench.heads.linear import linear_head
    from al_bench.loop import LoopSettings, plan_budget, run_loop

    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.15], 6, 10)
    yp = y[split.pool]  # an initial set with one item of class 2: it starts starving
    init = np.sort(np.concatenate([np.flatnonzero(yp == 0)[:12], np.flatnonzero(yp == 1)[:10],
                                   np.flatnonzero(yp == 2)[:1]]))
    other = y.copy()
    hidden = np.setdiff1d(split.pool, split.pool[init])
    other[hidden] = 0  # every item not yet bought in class 0: a leak would move every count
    s = LoopSettings("entropy", 0, class_balance=mode, make_head=lambda d, c, sd: linear_head(d, c, sd))
    first = [[r for r in run_loop(x, lab, split, ("a", "b", "c"), plan, init, s).selected if r["round"] == 1]
             for lab in (y, other)]
    assert [r["pool_position"] for r in first[0]] == [r["pool_position"] for r in first[1]]
    assert len(first[0]) == plan.points[-1] - init.size  # the one round to the last point
    if mode == "fallback":  # the starving class was aimed at
        assert any(r["source"] == "balance" and y[split.pool[r["pool_position"]]] == 2 for r in first[0])
