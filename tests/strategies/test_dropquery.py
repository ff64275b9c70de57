"""DropQuery against its definition: the candidates are exactly the items whose predicted class
changes in more than half of the dropout passes; with more candidates than picks, the candidate
nearest each k-means centroid; with fewer, all of them and a random rest."""

import numpy as np
import pytest

from al_bench.strategies import PoolView, select_batch


class _Model:
    """Model outputs whose dropout passes are given: ``ref`` (N,) classes without dropout and
    ``passes`` (M, N) classes in each pass, over the whole pool (3 classes)."""

    def __init__(self, ref, passes):
        self.ref, self.passes, self.asked = np.asarray(ref), np.asarray(passes), []

    def probs(self, pos):
        return np.eye(3)[self.ref[pos]] * 0.7 + 0.1

    def feature_dropout_probs(self, pos, m, rate, seed):
        self.asked.append((m, rate, seed))
        assert m == len(self.passes)
        return np.eye(3)[self.passes[:, pos]] * 0.7 + 0.1


def _passes(flips, m):
    """Pass predictions where item i's class changes (0 → 1) in the first flips[i] of m passes."""
    flips = np.asarray(flips)
    return (np.arange(m)[:, None] < flips[None, :]).astype(int)


def test_candidates_are_exactly_the_flipped_items_then_random_fill():
    flips = np.array([0, 1, 2, 3, 0, 2, 1, 3, 0, 0, 1, 2])  # of 3 passes; > 1.5 → items 2, 3, 5, 7, 11
    model = _Model(np.zeros(12, int), _passes(flips, 3))
    x = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
    view = PoolView(x, np.empty(0, np.int64), np.arange(12), 3, 1, model)
    picks, _, scores = select_batch("dropquery", view, 5, np.random.default_rng(0), with_scores=True)
    assert sorted(picks.tolist()) == [2, 3, 5, 7, 11]  # exactly the candidates (n = their number)
    np.testing.assert_allclose(scores, flips[picks] / 3)
    picks, _, scores = select_batch("dropquery", view, 8, np.random.default_rng(0), with_scores=True)
    assert picks[:5].tolist() == [3, 7, 2, 5, 11]  # every candidate, most flips first
    assert not np.isin(picks[5:], [2, 3, 5, 7, 11]).any()  # the rest: others, at random from the rng
    fills = {tuple(select_batch("dropquery", view, 8, np.random.default_rng(s))[0][5:]) for s in range(10)}
    assert len(fills) > 1
    assert model.asked[0][:2] == (3, 0.75)  # the paper's M = 3 passes, dropout 0.75


def test_more_than_half_of_the_passes():
    flips = np.array([2, 3, 4, 1, 0, 2])  # of 4 passes: only 3 and 4 are more than half
    view = PoolView(np.eye(6, dtype=np.float32), np.empty(0, np.int64), np.arange(6), 3, 1,
                    _Model(np.zeros(6, int), _passes(flips, 4)))
    picks, _ = select_batch("dropquery", view, 2, np.random.default_rng(0), params={"passes": 4})
    assert sorted(picks.tolist()) == [1, 2]


def test_the_pick_is_the_candidate_nearest_each_centroid():
    """Three far-apart groups of 3, 5 and 4 flipped items along x, and in each group a stable item
    exactly at the group's mean: the candidate nearest the centroid is picked, never the closer
    non-candidate. Largest group first."""
    groups = [np.array([0.0, 0.2, 1.0]), np.array([0.0, 0.2, 1.0, 0.4, 0.6]), np.array([-1.0, 0.9, 1.0, 1.1])]
    xs, flipped = [], []
    for g, (off, pts) in enumerate(zip([0.0, 100.0, 200.0], groups)):
        for v in pts:
            xs.append([off + v, 10.0 * g])
            flipped.append(True)
        xs.append([off + pts.mean(), 10.0 * g])  # a stable item at the group's mean
        flipped.append(False)
    x = np.array(xs, np.float32)
    flips = np.where(flipped, 3, 0)
    view = PoolView(x, np.empty(0, np.int64), np.arange(len(x)), 3, 1, _Model(np.zeros(len(x), int),
                                                                           _passes(flips, 3)))
    picks, _ = select_batch("dropquery", view, 3, np.random.default_rng(0), params={"normalize": False})
    # group 1 (5 items, mean 0.44): 0.4 at index 7; group 2 (4, mean 0.5): 0.9 at index 11;
    # group 0 (3, mean 0.4): 0.2 at index 1
    assert picks.tolist() == [7, 11, 1]


def test_dropout_masks_come_from_the_strategys_rng(head_cache):
    cache, x, labeled = head_cache
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    got = view.feature_dropout_probs(3, 0.5, np.random.default_rng(4))
    seed = int(np.random.default_rng(4).integers(2**63))
    np.testing.assert_array_equal(got, cache.current().feature_dropout_proba(x[view.unlabeled], 3, 0.5, seed))
    a, _ = select_batch("dropquery", view, 10, np.random.default_rng(4))
    b, _ = select_batch("dropquery", view, 10, np.random.default_rng(4))
    assert a.tolist() == b.tolist()


def test_outputs_without_a_head_are_refused_in_one_line():
    from al_bench.errors import UserError

    class _Given:  # probabilities only, as predictions given as arrays
        def probs(self, pos):
            return np.full((len(pos), 3), 1 / 3)

    view = PoolView(np.eye(4, dtype=np.float32), np.empty(0, np.int64), np.arange(4), 3, 1, _Given())
    with pytest.raises(UserError, match=r"dropout passes through the head itself.*\(_Given\) cannot") as err:
        select_batch("dropquery", view, 2, np.random.default_rng(0))
    assert "\n" not in str(err.value)
