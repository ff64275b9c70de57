"""Stochastic batch acquisition (strategy.sampling, Kirsch et al. 2023): log-weights by hand,
Gumbel-top-k draws without replacement, pick frequencies that follow the weights (chi-square
tests that also reject top-k and uniform), and the refusals for strategies without per-point
scores of every candidate."""

import math

import numpy as np
import pytest
from scipy.stats import chisquare

from al_bench.errors import UserError
from al_bench.kernels.topk import top_k
from al_bench.strategies import STRATEGIES, PoolView, check_sampling, register, samples_scores, select_batch
from al_bench.strategies._sampling import gumbel_top_k, log_weights

DRAWS = 20_000


def _p_value(counts, probs) -> float:
    """Chi-square goodness of fit of ``counts`` to ``probs``; a zero-probability cell that was
    hit is an impossible outcome (p = 0)."""
    counts, probs = np.asarray(counts, float), np.asarray(probs, float)
    probs = probs / probs.sum()
    if (counts[probs == 0] > 0).any():
        return 0.0
    keep = probs > 0
    return float(chisquare(counts[keep], probs[keep] * counts.sum()).pvalue)


def _first_pick_counts(scores, sampling, beta, seed=0, draws=DRAWS):
    rng = np.random.default_rng(seed)
    lw = log_weights(np.asarray(scores, float), sampling, beta)
    return np.bincount([gumbel_top_k(lw, 1, rng)[0] for _ in range(draws)], minlength=len(scores))


# -- log-weights, by hand -------------------------------------------------------------------------

def test_log_weights_by_hand():
    s = np.array([0.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(log_weights(s, "power", 2.0), [-np.inf, 0.0, 2 * math.log(2), 4 * math.log(2)])
    np.testing.assert_allclose(log_weights(s, "softmax", 0.5), [0.0, 0.5, 1.0, 2.0])
    # ranks 1 = best: 4 → 1, 2 → 2, 1 → 3, 0 → 4; log-weight −β log r
    np.testing.assert_allclose(log_weights(s, "softrank", 2.0), -2.0 * np.log([4.0, 3.0, 2.0, 1.0]))


def test_softrank_ties_share_their_average_rank():
    s = np.array([3.0, 1.0, 3.0, 2.0])  # the two 3s span ranks 1 and 2: both get 1.5
    np.testing.assert_allclose(log_weights(s, "softrank", 1.0), -np.log([1.5, 4.0, 1.5, 3.0]))


def test_beta_zero_is_uniform_and_power_refuses_negative_scores():
    for sampling in ("power", "softmax", "softrank"):
        np.testing.assert_array_equal(log_weights(np.array([0.0, 0.3, 2.0]), sampling, 0.0), np.zeros(3))
    with pytest.raises(ValueError, match="scores >= 0"):
        log_weights(np.array([0.5, -0.1]), "power", 1.0)
    with pytest.raises(ValueError, match="NaN"):
        log_weights(np.array([0.5, np.nan]), "softmax", 1.0)


# -- Gumbel-top-k ---------------------------------------------------------------------------------

def test_gumbel_top_k_draws_distinct_items():
    rng = np.random.default_rng(1)
    lw = np.log(np.linspace(0.1, 5.0, 50))
    for n in (1, 7, 50):
        picks = gumbel_top_k(lw, n, rng)
        assert picks.shape == (n,) and np.unique(picks).size == n and picks.dtype == np.int64
    assert sorted(gumbel_top_k(lw, 50, rng).tolist()) == list(range(50))


def test_zero_weight_items_come_last_in_random_order():
    lw = np.array([0.0, -np.inf, 1.0, -np.inf, -np.inf, 2.0])
    tails = set()
    for seed in range(30):
        picks = gumbel_top_k(lw, 6, np.random.default_rng(seed))
        assert set(picks[:3].tolist()) == {0, 2, 5}
        tails.add(tuple(picks[3:].tolist()))
    assert len(tails) > 1, "the zero-weight items must not come in a fixed order"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_ordered_pairs_follow_plackett_luce():
    """Two draws without replacement: P(i then j) = w_i/W · w_j/(W − w_i)."""
    w = np.array([1.0, 2.0, 3.0, 4.0])
    rng = np.random.default_rng(2)
    counts = np.zeros((4, 4))
    for _ in range(DRAWS):
        i, j = gumbel_top_k(np.log(w), 2, rng)
        counts[i, j] += 1
    W = w.sum()
    expected = np.array([[0.0 if i == j else w[i] / W * w[j] / (W - w[i]) for j in range(4)] for i in range(4)])
    assert _p_value(counts.ravel(), expected.ravel()) > 1e-3
    # with replacement (the second draw independent of the first) the same test fails
    with_replacement = np.outer(w / W, w / W)
    assert _p_value(counts.ravel(), with_replacement.ravel()) == 0.0


# -- pick frequencies follow the weights (and the test can tell) -----------------------------------

SCORES = np.array([0.5, 1.0, 1.5, 2.0, 3.0])


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_power_pick_frequencies_follow_score_to_the_beta():
    beta = 2.0
    counts = _first_pick_counts(SCORES, "power", beta)
    assert _p_value(counts, SCORES ** beta) > 1e-3
    # the same test rejects the other hypotheses: uniform, proportional to the score (β = 1), top-k
    assert _p_value(counts, np.ones(5)) < 1e-9
    assert _p_value(counts, SCORES) < 1e-9
    assert _p_value(counts, SCORES == SCORES.max()) == 0.0
    # and rejects top-k's and uniform's own picks against score^β
    topk_counts = np.bincount([top_k(SCORES, 1, np.random.default_rng(s))[0] for s in range(2000)], minlength=5)
    uniform_counts = np.bincount(np.random.default_rng(3).integers(0, 5, DRAWS), minlength=5)
    assert _p_value(topk_counts, SCORES ** beta) < 1e-9
    assert _p_value(uniform_counts, SCORES ** beta) < 1e-9


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_softmax_pick_frequencies_follow_exp_beta_score():
    s, beta = np.array([0.0, 1.0, 2.0, 3.0]), 0.8
    counts = _first_pick_counts(s, "softmax", beta, seed=4)
    assert _p_value(counts, np.exp(beta * s)) > 1e-3
    assert _p_value(counts, np.exp(2 * beta * s)) < 1e-9 and _p_value(counts, np.ones(4)) < 1e-9


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_softrank_pick_frequencies_follow_rank_to_the_minus_beta():
    s, beta = np.array([0.9, 0.1, 0.5, 0.3]), 1.0  # ranks 1, 4, 2, 3
    counts = _first_pick_counts(s, "softrank", beta, seed=5)
    assert _p_value(counts, np.array([1.0, 4.0, 2.0, 3.0]) ** -beta) > 1e-3
    assert _p_value(counts, s) < 1e-9 and _p_value(counts, np.ones(4)) < 1e-9


# -- through the strategy registry -------------------------------------------------------------------

@pytest.fixture
def fixed_scorer():
    """A registered score-based test strategy whose scores are ``SCORES`` over a 5-item pool."""
    def scores(view, rng):
        return SCORES[view.unlabeled]

    @register("_fixed_scores", needs=set(), score="fixed", pool_scores=scores)
    def fixed(view, n, rng):
        return view.unlabeled[top_k(scores(view, rng), n, rng)]

    yield "_fixed_scores"
    STRATEGIES.unregister("_fixed_scores")


def _pool_view(n_items=5):
    return PoolView(np.zeros((n_items, 2), np.float32), np.empty(0, np.int64), np.arange(n_items), 2, 1)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_select_batch_samples_power_from_the_strategy_scores(fixed_scorer):
    rng = np.random.default_rng(6)
    view = _pool_view()
    counts = np.zeros(5)
    for _ in range(4000):
        picks, own, scores = select_batch(fixed_scorer, view, 1, rng, sampling="power", beta=2.0, with_scores=True)
        counts[picks[0]] += 1
        assert own.all() and scores[0] == SCORES[picks[0]]  # the strategy's own score, not the weight
    assert _p_value(counts, SCORES ** 2) > 1e-3
    assert _p_value(counts, SCORES == SCORES.max()) == 0.0
    # topk (the default) still takes the best, deterministically
    assert select_batch(fixed_scorer, view, 1, rng)[0].tolist() == [4]


def test_sampled_batches_are_distinct_unlabeled_and_reproducible(fixed_scorer):
    view = PoolView(np.zeros((5, 2), np.float32), np.array([1]), np.array([0, 2, 3, 4]), 2, 1)
    for sampling in ("power", "softmax", "softrank"):
        a, _ = select_batch(fixed_scorer, view, 4, np.random.default_rng(7), sampling=sampling, beta=3.0)
        b, _ = select_batch(fixed_scorer, view, 4, np.random.default_rng(7), sampling=sampling, beta=3.0)
        assert sorted(a.tolist()) == [0, 2, 3, 4] and a.tolist() == b.tolist()
    picks, own = select_batch(fixed_scorer, view, 4, np.random.default_rng(8), random_fraction=0.5,
                              sampling="power", beta=1.0)
    assert np.unique(picks).size == 4 and own.tolist() == [True, True, False, False]


def test_sampling_is_refused_for_strategies_without_scores_of_every_candidate(head_cache):
    cache, x_pool, labeled = head_cache
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(len(x_pool)), labeled), 3, 1, cache)
    for name in ("kcenter", "random", "badge", "hybrid", "typiclust"):
        assert not samples_scores(name)
        with pytest.raises(UserError, match=r"^strategy\.sampling: 'power' needs a strategy that scores every"):
            select_batch(name, view, 3, np.random.default_rng(0), sampling="power")
    with pytest.raises(UserError, match=r"^strategy\.beta: 2 does nothing with strategy\.sampling=topk"):
        check_sampling("entropy", "topk", 2.0)
    with pytest.raises(UserError, match=r"^strategy\.sampling: got 'top'"):
        check_sampling("entropy", "top", 1.0)
    with pytest.raises(UserError, match=r"^strategy\.beta: got -1"):
        check_sampling("entropy", "power", -1)


def test_uncertainty_strategies_score_every_candidate():
    assert {"entropy", "margin", "least_confidence", "bald"} <= {n for n in STRATEGIES if samples_scores(n)}


@pytest.mark.parametrize("name", sorted(n for n in STRATEGIES if samples_scores(n)))
def test_pool_scores_are_what_the_strategy_ranks(name, head_cache):
    """Top-k of a strategy's ``pool_scores`` is its own top-k pick (same rng draws), and its
    sampled batches are valid and reproducible."""
    cache, x_pool, labeled = head_cache
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(len(x_pool)), labeled), 3, 1, cache)
    own, _ = select_batch(name, view, 8, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    scores = STRATEGIES.entry(name).pool_scores(view, rng)
    assert scores.shape == view.unlabeled.shape
    assert view.unlabeled[top_k(scores, 8, rng)].tolist() == own.tolist()
    for sampling in ("power", "softmax", "softrank"):
        a, _ = select_batch(name, view, 8, np.random.default_rng(10), sampling=sampling)
        b, _ = select_batch(name, view, 8, np.random.default_rng(10), sampling=sampling)
        assert a.tolist() == b.tolist() and np.unique(a).size == 8 and np.isin(a, view.unlabeled).all()


def test_a_beta_so_large_it_overflows_is_the_top_k_limit(fixed_scorer):
    """β = 1e308 overflows β · s to inf (a ValueError in the draw, i.e. a failed run, before):
    it is the top-k limit, so the batch is the highest scores in order, for every sampling, and
    a β that does not overflow keeps its exact log-weights."""
    s = np.array([0.1, 2.3, 2.2, 0.0, 1.0])
    for sampling in ("power", "softmax", "softrank"):
        lw = log_weights(s, sampling, 1e308)
        assert not np.isnan(lw).any() and not np.isposinf(lw).any()
        assert gumbel_top_k(lw, 3, np.random.default_rng(0)).tolist() == [1, 2, 4]
    view = _pool_view()
    picks, _ = select_batch(fixed_scorer, view, 2, np.random.default_rng(1), sampling="softmax", beta=1e308)
    assert picks.tolist() == np.argsort(-SCORES)[:2].tolist()
    np.testing.assert_array_equal(log_weights(s, "softmax", 3.0), 3.0 * s)
