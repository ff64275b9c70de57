"""Temperature scaling and calibration metrics (al_bench.heads.calibration): NLL and ECE against
hand-computed values, and fit_temperature's optimum on data whose best temperature is known exactly."""

import numpy as np
import pytest

from al_bench.heads.calibration import expected_calibration_error, fit_temperature, nll


def _calibrated():
    """Logits whose softmax matches the label frequencies exactly: (logits (20, 2), labels (20,)).

    p = [0.75, 0.25] for 4 rows (labels 0, 0, 0, 1) and p = [0.1, 0.9] for 10 rows (one 0, nine
    1s), and [0.5, 0.5] for 6 rows (three of each). NLL is convex in 1/T with its gradient
    mean(E_p[z] − z_y) zero at T = 1, so T = 1 is the exact optimum.
    """
    rows = [([np.log(3.0), 0.0], [0, 0, 0, 1]), ([0.0, np.log(9.0)], [0] + [1] * 9), ([0.0, 0.0], [0, 0, 0, 1, 1, 1])]
    logits = np.array([z for z, ys in rows for _ in ys])
    y = np.array([c for _, ys in rows for c in ys])
    return logits, y


def test_nll_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    y = np.array([0, 1])
    # −(log 0.5 + log 0.25) / 2
    assert nll(logits, y) == pytest.approx(-(np.log(0.5) + np.log(0.25)) / 2)
    # T = 2 halves the logits: p = [√3, 1] / (√3 + 1) for the second row
    p1 = 1 / (np.sqrt(3) + 1)
    assert nll(logits, y, temperature=2.0) == pytest.approx(-(np.log(0.5) + np.log(p1)) / 2)


def test_nll_is_finite_for_huge_logits():
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    assert nll(logits, np.array([0, 1])) == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(nll(logits, np.array([1, 0])))  # 2000 nats, no overflow to inf or NaN


def test_calibrated_logits_are_a_fixed_point():
    logits, y = _calibrated()
    assert fit_temperature(logits, y) == pytest.approx(1.0, abs=1e-6)


def test_overconfident_logits_are_cooled_to_their_calibrated_temperature():
    logits, y = _calibrated()
    hot = 4.0 * logits  # the same ranking, four times too confident
    t = fit_temperature(hot, y)
    assert t == pytest.approx(4.0, rel=1e-6)
    assert nll(hot, y, t) < nll(hot, y, 1.0) - 0.1
    assert nll(hot, y, t) == pytest.approx(nll(logits, y), abs=1e-9)


def test_underconfident_logits_are_sharpened():
    logits, y = _calibrated()
    assert fit_temperature(logits / 2.5, y) == pytest.approx(0.4, rel=1e-6)


def test_temperature_stays_in_its_bounds_and_defaults_to_one_without_data():
    separable = np.array([[2.0, -2.0], [-2.0, 2.0]])  # all right: NLL keeps falling as T → 0
    assert fit_temperature(separable, np.array([0, 1]), lo=0.05, hi=20.0) == pytest.approx(0.05, rel=1e-6)
    wrong = np.array([[2.0, -2.0], [-2.0, 2.0]])  # all wrong: NLL keeps falling as T → ∞
    assert fit_temperature(wrong, np.array([1, 0]), lo=0.05, hi=20.0) == pytest.approx(20.0, rel=1e-6)
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, np.int64)) == 1.0


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    y = np.array([0, 1, 1, 0])  # right, wrong, right, wrong; confidences 0.9, 0.8, 0.7, 0.6
    # ten bins: one item each, (|1 − .9| + |0 − .8| + |1 − .7| + |0 − .6|) / 4
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(0.45)
    # five bins of width .2: [.8, 1] holds .9 and .8 (accuracy .5), [.6, .8) holds .7 and .6 (accuracy .5)
    assert expected_calibration_error(probs, y, n_bins=5) == pytest.approx(0.5 * 0.35 + 0.5 * 0.15)


def test_ece_puts_confidence_one_in_the_last_bin_and_is_zero_when_calibrated():
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0])) == 0.0
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
