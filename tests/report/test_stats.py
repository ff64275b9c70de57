"""al_bench.report.stats: the paired t-test, its interval and AUBC against numbers computed here
from first principles (closed forms of Student's t for 1 and 2 degrees of freedom)."""

import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report.stats import ZERO, aubc, paired_t, seed_differences


# Student's t with 1 degree of freedom is the Cauchy distribution, with 2 it has a closed form:
#   df=1: quantile t_q = tan(π (q − ½)),            two-sided p(t) = 1 − (2/π) atan|t|
#   df=2: quantile t_q = (2q − 1) / √(2 q (1 − q)),  two-sided p(t) = 1 − |t| / √(t² + 2)
def t975_df1() -> float:
    return math.tan(math.pi * 0.475)


def t975_df2() -> float:
    return 0.95 / math.sqrt(2 * 0.975 * 0.025)


def p_df1(t: float) -> float:
    return 1 - 2 / math.pi * math.atan(abs(t))


def p_df2(t: float) -> float:
    return 1 - abs(t) / math.sqrt(t * t + 2)


def test_the_closed_forms_are_the_textbook_quantiles():
    # the two-sided 95 % critical values of every t table: 12.706 (df 1) and 4.303 (df 2)
    assert t975_df1() == pytest.approx(12.7062, abs=1e-4)
    assert t975_df2() == pytest.approx(4.3027, abs=1e-4)


def test_three_pairs_by_hand():
    # d = 0.02, 0.04, 0.06: mean 0.04, sd 0.02, se 0.02/√3, t = 2√3 on 2 df
    r = paired_t([0.02, 0.04, 0.06])
    se = 0.02 / math.sqrt(3)
    assert (r.n, r.mean, r.std) == (3, pytest.approx(0.04), pytest.approx(0.02))
    assert r.p_value == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14), rel=1e-9)  # 0.0742
    assert r.p_value == pytest.approx(p_df2(2 * math.sqrt(3)), rel=1e-9)
    assert r.ci_low == pytest.approx(0.04 - t975_df2() * se, rel=1e-9)
    assert r.ci_high == pytest.approx(0.04 + t975_df2() * se, rel=1e-9)
    assert r.ci_low < 0 < r.ci_high and not r.beats()  # positive mean, not significant


def test_two_pairs_by_hand():
    # d = 0.04, 0.08: mean 0.06, sd 0.02·√2, se 0.02, t = 3 on 1 df
    r = paired_t([0.04, 0.08])
    assert r.n == 2 and r.std == pytest.approx(0.02 * math.sqrt(2))
    assert r.p_value == pytest.approx(p_df1(3.0), rel=1e-9)  # 0.2048
    assert (r.ci_low, r.ci_high) == (pytest.approx(0.06 - t975_df1() * 0.02, rel=1e-9),
                                     pytest.approx(0.06 + t975_df1() * 0.02, rel=1e-9))


def test_significant_both_ways_and_beats_only_when_positive():
    up = paired_t([0.09, 0.10, 0.11])  # t = 0.1 / (0.01/√3) = 10√3
    assert up.p_value == pytest.approx(p_df2(10 * math.sqrt(3)), rel=1e-6) and up.p_value < 0.05
    assert up.beats()
    down = paired_t([-0.09, -0.10, -0.11])
    assert down.p_value == pytest.approx(up.p_value) and not down.beats()


def test_fewer_than_two_pairs_is_nan_never_a_number():
    one = paired_t([0.07])
    assert one.n == 1 and one.mean == pytest.approx(0.07)
    assert all(np.isnan(v) for v in (one.std, one.ci_low, one.ci_high, one.p_value))
    assert not one.tested and not one.beats()
    none = paired_t([])
    assert none.n == 0 and np.isnan(none.mean) and np.isnan(none.p_value)
    assert paired_t([0.07, np.nan]).n == 1  # a missing difference is not a pair


def test_zero_spread_same_nonzero_difference_is_p0_and_a_point_interval():
    # 0.6−0.5, 0.8−0.7, 0.7−0.6 differ from 0.1 only by rounding (~1e-17): zero spread
    d = np.array([0.6, 0.8, 0.7]) - np.array([0.5, 0.7, 0.6])
    assert 0 < d.std(ddof=1) <= ZERO
    r = paired_t(d)
    assert r.p_value == 0.0 and r.ci_low == r.ci_high == pytest.approx(0.1) and r.beats()


def test_every_seed_tied_is_p1_and_a_zero_interval():
    r = paired_t([0.0, 0.0, 0.0])
    assert (r.mean, r.ci_low, r.ci_high, r.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert r.tested and not r.beats()


def test_agrees_with_scipy_ttest_rel():
    from scipy import stats

    rng = np.random.default_rng(3)
    a, b = rng.normal(0.7, 0.05, 7), rng.normal(0.68, 0.05, 7)
    r = paired_t(a - b)
    assert r.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-9)


def test_aubc_by_hand():
    # labels 100, 200, 400 → x = 0, 1/3, 1: area = (1/3)(0.5+0.6)/2 + (2/3)(0.6+0.8)/2 = 0.65
    assert aubc([100, 200, 400], [0.5, 0.6, 0.8]) == pytest.approx(0.65)
    assert aubc([10, 20, 30], [0.2, 0.4, 0.9]) == pytest.approx((0.2 + 2 * 0.4 + 0.9) / 4)  # equal steps
    assert aubc([5, 50], [0.7, 0.7]) == pytest.approx(0.7)  # a flat curve: its height
    # invariant to the unit of the x axis: fractions of the pool give the same area
    assert aubc([0.1, 0.2, 0.4], [0.5, 0.6, 0.8]) == pytest.approx(0.65)


def test_aubc_undefined_cases():
    assert np.isnan(aubc([100], [0.5]))  # one point: no axis to rescale
    assert np.isnan(aubc([100, 100], [0.5, 0.6]))
    assert np.isnan(aubc([100, 200], [0.5, np.nan]))
    with pytest.raises(ValueError, match="must not decrease"):
        aubc([100, 300, 200], [0.5, 0.6, 0.7])


def test_seed_differences_pairs_only_common_seeds_in_seed_order():
    f = pd.DataFrame({"strategy": ["a"] * 3 + ["b"] * 2, "seed": [2, 0, 1, 1, 2],
                      "accuracy": [0.9, 0.5, 0.6, 0.55, 0.8]})
    np.testing.assert_allclose(seed_differences(f, "a", "b"), [0.05, 0.1])
    assert seed_differences(f, "a", "missing").size == 0
