"""model.weighting=lure: the LURE weights of Farquhar et al. (2021) against their formula and
their purpose (an unbiased estimate of the pool's mean loss), the probabilities they read, the
weighted fit, and the configs that cannot have them."""

import itertools

import numpy as np
import pytest

from al_bench.loop.lure import lure_weights, sequential_probabilities, uniform_probabilities


def test_weights_on_a_hand_computed_case():
    # N = 4, M = 2, q = (1/2, 1/2): v1 = 1 + (2/3)(1/(4·½) − 1) = 2/3; v2 = 1 + (2/2)(1/(3·½) − 1) = 2/3
    np.testing.assert_allclose(lure_weights([0.5, 0.5], 4), [2 / 3, 2 / 3])
    # N = 5, M = 3, q = (0.1, 0.5, 0.25)
    n, big_m, q = 5, 3, [0.1, 0.5, 0.25]
    want = [1 + (n - big_m) / (n - m) * (1 / ((n - m + 1) * q[m - 1]) - 1) for m in (1, 2, 3)]
    np.testing.assert_allclose(lure_weights(q, n), want)
    np.testing.assert_allclose(lure_weights(uniform_probabilities(10, 4), 10), np.ones(4))  # uniform: 1


def test_weighted_mean_is_unbiased_for_the_pool_mean_over_every_draw_order():
    """Exact expectation over every ordered draw of M = 3 of N = 5 items, drawn one at a time in
    proportion to fixed weights: E[(1/M) Σ v_m f(i_m)] equals the pool's mean of f."""
    w = np.array([5.0, 1.0, 2.0, 0.5, 1.5])
    f = np.array([3.0, -1.0, 4.0, 10.0, 0.0])
    n, big_m = len(w), 3
    expectation = 0.0
    for order in itertools.permutations(range(n), big_m):
        q = sequential_probabilities(np.log(w), np.array(order))
        expectation += np.prod(q) * np.mean(lure_weights(q, n) * f[list(order)])
    assert expectation == pytest.approx(f.mean(), rel=1e-12)
    naive = sum(np.prod(sequential_probabilities(np.log(w), np.array(o))) * f[list(o)].mean()
                for o in itertools.permutations(range(n), big_m))
    assert abs(naive - f.mean()) > 0.3  # without the weights the estimate is biased here


def test_the_whole_pool_bought_weighs_every_label_one():
    """M = N (a schedule that ends at the whole pool): the labeled set is the pool, so the plain
    mean is exact; the formula's last term would be 0/0. Unbiased over every draw order too."""
    w, f = np.array([5.0, 1.0, 2.0, 0.5]), np.array([3.0, -1.0, 4.0, 10.0])
    for order in itertools.permutations(range(4)):
        q = sequential_probabilities(np.log(w), np.array(order))
        np.testing.assert_array_equal(lure_weights(q, 4), np.ones(4))
        assert np.mean(lure_weights(q, 4) * f[list(order)]) == pytest.approx(f.mean())
    with pytest.raises(ValueError, match="at most as many purchases"):
        lure_weights([0.5] * 5, 4)


def test_sequential_probabilities_are_draws_without_replacement():
    q = sequential_probabilities(np.log([1.0, 3.0, 4.0]), np.array([2, 0]))
    np.testing.assert_allclose(q, [4 / 8, 1 / 4])


def test_the_weighted_fit_with_unit_weights_is_the_unweighted_fit():
    from al_bench.heads.linear import linear_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    a = linear_head(5, 2, 3).fit(x, y)
    b = linear_head(5, 2, 3).fit(x, y, sample_weight=np.ones(40))
    c = linear_head(5, 2, 3).fit(x, y, sample_weight=np.where(y == 1, 3.0, 0.5))
    assert a.weight.numpy().tobytes() == b.weight.numpy().tobytes()
    assert c.predict_proba(x)[:, 1].mean() > a.predict_proba(x)[:, 1].mean()  # class 1 weighs more


@pytest.mark.parametrize("overrides, words", [
    (["strategy=entropy"], "strategy entropy picks top-k"),
    (["strategy=random", "strategy.class_balance=fallback"], "strategy.class_balance draws have no known"),
    (["strategy=random", "budget.initial_strategy=typiclust"], "the initial set comes from typiclust"),
    (["strategy=random", "model=resnet18"], "model resnet18 does not weight its loss"),
])
def test_configs_without_known_probabilities_are_refused(overrides, words):
    from al_bench.cli.run import plain_config
    from al_bench.config import parse_settings
    from al_bench.errors import UserError
    from support import compose_config

    cfg = plain_config(compose_config("dataset=digits", *overrides, "model.weighting=lure"))
    with pytest.raises(UserError, match="^model.weighting=lure needs known acquisition probabilities: " + words):
        parse_settings(cfg)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_loop_weights_a_sampled_strategy(blobs):
    """softmax-sampled entropy with LURE: the head is fitted on weighted losses, a different
    model than without weights (at beta 3 the draw is nearly uniform and the weights nearly 1)."""
    from al_bench.data import initial_labeled, make_split
    from al_bench.heads.linear import linear_head
    from al_bench.loop import LoopSettings, plan_budget, run_loop

    x, y = blobs
    split = make_split(y, seed=0, test_fraction=0.2, calibration_fraction=0.1)
    plan = plan_budget(len(split.pool), [0.1, 0.3], 6, 10)
    init = initial_labeled(len(split.pool), plan.initial, 0)
    runs = {}
    for weighting in ("none", "lure"):
        s = LoopSettings("entropy", 0, sampling="softmax", beta=30.0, weighting=weighting,
                         make_head=lambda d, c, sd: linear_head(d, c, sd))
        runs[weighting] = run_loop(x, y, split, ("a", "b", "c"), plan, init, s)
    ece = [[r["ece_uncalibrated"] for r in runs[w].curve] for w in ("none", "lure")]
    assert ece[0] != ece[1]  # the weights changed the fitted model


def test_drawing_everything_left_ends_with_a_probability_of_exactly_one():
    """A schedule that ends by buying the whole rest of the pool: weights spread over e^20, the
    last draw's probability is 1 (a running difference made it 1.0000000000000004, which LURE
    refused), and every one stays in (0, 1]."""
    rng = np.random.default_rng(0)
    lw = 20.0 * rng.random(519)
    order = rng.permutation(519)
    q = sequential_probabilities(lw, order)
    assert q[-1] == 1.0 and (q > 0).all() and (q <= 1).all()
    w = np.exp(lw - lw.max())
    want = [w[i] / w[order[k:]].sum() for k, i in enumerate(order)]  # by the definition
    np.testing.assert_allclose(q, want, rtol=1e-12)
    np.testing.assert_array_equal(lure_weights(q, 519), np.ones(519))
