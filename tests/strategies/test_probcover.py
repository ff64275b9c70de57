"""ProbCover against its definition, on points of the unit circle (chord between angles a and b:
2 sin(|a − b| / 2)): the greedy picks the ball covering the most uncovered points, labeled balls
start covered, covered points leave every ball; δ by the purity rule; the blocked graph."""

import numpy as np
import pytest

from al_bench.errors import UserError
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.probcover import (
    DELTA_GRID,
    choose_delta,
    delta_graph,
    greedy_cover,
    other_class_distance,
    purity_delta,
    unit_rows,
)


def _circle(degrees, radius=1.0):
    a = np.deg2rad(np.asarray(degrees, np.float64))
    return (radius * np.stack([np.cos(a), np.sin(a)], axis=1)).astype(np.float32)


# δ = 0.3 links angles less than 2·asin(0.15) ≈ 17.25° apart:
#   A: -16 -8 0 8 16   the centre's ball holds all 5; ±8°'s hold 4 (24° > 17.25°), ±16°'s 3
#   B: 90 102 114      the middle's ball holds 3, the ends' 2
#   E: 200 210         200 is labeled, so both start covered
#   D: 300             alone: 1
ANGLES = [-16, -8, 0, 8, 16, 90, 102, 114, 200, 210, 300]


def test_greedy_picks_the_ball_covering_most_then_random():
    x = _circle(ANGLES, radius=3.0)  # not unit length: probcover normalizes
    labeled = np.array([8])
    view = PoolView(x, labeled, np.setdiff1d(np.arange(11), labeled), 3, 0)
    picks, _, scores = select_batch("probcover", view, 5, np.random.default_rng(0), params={"delta": 0.3},
                                    with_scores=True)
    # A's centre (5); then B's middle (3), not A's ±8° (4 before A was covered, 0 after); then D
    # (1), not 210° (2 if the labeled ball did not start covered); then all is covered: random
    assert picks[:3].tolist() == [2, 6, 10]
    assert scores.tolist() == [5, 3, 1, 0, 0]
    rest = set(range(11)) - {2, 6, 8, 10}
    assert set(picks[3:].tolist()) <= rest
    again, _ = select_batch("probcover", view, 5, np.random.default_rng(0), params={"delta": 0.3})
    assert again.tolist() == picks.tolist()
    seen = {tuple(select_batch("probcover", view, 5, np.random.default_rng(s), params={"delta": 0.3})[0][3:])
            for s in range(12)}
    assert len(seen) > 1  # the picks after full coverage come from the rng


def test_greedy_cover_counts_and_ties_from_the_rng():
    # a path 0-1-2-3 (1 and 2 cover 3 each) and an isolated 4
    indptr = np.array([0, 1, 3, 5, 6, 6])
    indices = np.array([1, 0, 2, 1, 3, 2], np.int32)
    firsts = set()
    for seed in range(20):
        picks, scores = greedy_cover(indptr, indices, np.empty(0, np.int64), np.arange(5), 3, np.random.default_rng(seed))
        assert picks[0] in (1, 2) and scores.tolist() == [3, 1, 1]
        balls = [{p, *indices[indptr[p] : indptr[p + 1]].tolist()} for p in picks.tolist()]
        assert set().union(*balls) == set(range(5))  # after 3 picks every point is covered
        firsts.add(int(picks[0]))
    assert firsts == {1, 2}  # the tie is broken by the rng, not by position


def test_other_class_distance_is_the_nearest_other_label():
    rng = np.random.default_rng(0)
    xn = unit_rows(rng.normal(size=(70, 5)))
    labels = rng.integers(0, 3, 70)
    got = other_class_distance(xn, labels, block=7 * 70)  # 7 rows a block: 10 blocks
    d = np.linalg.norm(xn[:, None, :].astype(np.float64) - xn[None, :, :], axis=2)
    d[labels[:, None] == labels[None, :]] = np.inf
    np.testing.assert_allclose(got, d.min(axis=1), atol=1e-5)
    assert np.isinf(other_class_distance(xn, np.zeros(70, int))).all()  # one label: no other class


def test_choose_delta_is_the_largest_grid_value_at_least_that_pure():
    # one point has another class 0.12 away, one 0.42, the other 18 0.8: purity is 1 up to 0.10,
    # 19/20 = 0.95 up to 0.40, 0.9 up to 0.80 and 0 beyond
    r = np.array([0.12, 0.42] + [0.8] * 18)
    assert choose_delta(r, 0.95) == 0.40
    assert choose_delta(r, 0.96) == 0.10
    assert choose_delta(r, 0.90) == 0.80
    assert choose_delta(np.full(5, 0.01), 0.95) == DELTA_GRID.min()  # none is pure enough: the smallest


def test_purity_rule_on_k_means_pseudo_labels():
    """Two arcs of 20 points (0°–9.5° and 40°–49.5°, 0.5° apart): k-means with k = 2 finds them.
    The nearest other-arc point is 30.5° away for two points, 31° for two more, … so at δ = 0.50
    (28.96°) every ball is pure, at 0.55 (31.93°) six are not (0.85), at 0.60 (34.92°) 18 (0.55)."""
    xn = unit_rows(_circle(np.concatenate([np.arange(20) * 0.5, 40 + np.arange(20) * 0.5])))
    assert purity_delta(xn, 2, np.random.default_rng(0), 0.95) == 0.50
    assert purity_delta(xn, 2, np.random.default_rng(0), 0.80) == 0.55
    assert purity_delta(xn, 2, np.random.default_rng(0), 0.50) == 0.60


def test_graph_in_blocks_equals_the_dense_one_and_the_cap_lowers_delta():
    rng = np.random.default_rng(1)
    xn = unit_rows(rng.normal(size=(90, 3)))
    d = np.linalg.norm(xn[:, None, :].astype(np.float64) - xn[None, :, :], axis=2)
    pairs = {g: int(np.triu(d < g, k=1).sum()) for g in DELTA_GRID}
    indptr, indices, used = delta_graph(xn, [0.5], max_edges=10**9, block=4 * 90)
    assert used == 0.5 and indptr[-1] == 2 * pairs[0.5]
    for i in range(90):
        want = set(np.flatnonzero(d[i] < 0.5).tolist()) - {i}
        assert set(indices[indptr[i] : indptr[i + 1]].tolist()) == want
    # a cap between the pair counts of 0.35 and 0.40: δ steps down from 0.5 to 0.35
    cap = (pairs[0.35] + pairs[0.40]) // 2
    assert pairs[0.35] <= cap < pairs[0.40]
    indptr, _, used = delta_graph(xn, [0.5, 0.45, 0.40, 0.35, 0.30], max_edges=cap, block=4 * 90)
    assert used == 0.35 and indptr[-1] == 2 * pairs[0.35]
    with pytest.raises(UserError, match="strategy.params.max_edges"):
        delta_graph(xn, [0.5], max_edges=1)


def test_without_classes_it_asks_for_n_clusters_or_delta():
    x = _circle(ANGLES)
    view = PoolView(x, np.array([8]), np.setdiff1d(np.arange(11), [8]), 0, 0)  # n_classes unknown
    with pytest.raises(UserError, match="strategy.params.n_clusters"):
        select_batch("probcover", view, 2, np.random.default_rng(0))
    picks, _ = select_batch("probcover", view, 2, np.random.default_rng(0), params={"n_clusters": 4})
    assert picks.size == 2
