import numpy as np
import pytest

from al_bench import scores


def test_entropy_hand_values():
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(scores.entropy(p), [0.0, np.log(3), np.log(2)], atol=1e-12)


def test_margin_hand_values():
    p = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.1, 0.3, 0.6]])
    np.testing.assert_allclose(scores.margin(p), [0.5, 0.0, 1.0, 0.7], atol=1e-12)


def test_least_confidence_hand_values():
    p = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(scores.least_confidence(p), [0.3, 0.0, 0.5], atol=1e-12)


def test_uniform_row_is_most_informative_for_every_score():
    p = np.array([[0.25] * 4, [0.97, 0.01, 0.01, 0.01], [0.4, 0.3, 0.2, 0.1]])
    for fn in (scores.entropy, scores.margin, scores.least_confidence):
        s = fn(p)
        assert s.argmax() == 0 and s.argmin() == 1, fn.__name__


def test_bald_direct_formula_and_zero_for_identical_samples():
    # two passes that disagree completely: H(mean) = log 2, mean H = 0
    mc = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(scores.bald(mc), [np.log(2)], atol=1e-12)
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=7)
    same = np.stack([p] * 20)
    np.testing.assert_allclose(scores.bald(same), np.zeros(7), atol=1e-12)
    mixed = rng.dirichlet(np.ones(5), size=(20, 7))
    h = lambda q: -(q * np.log(q)).sum(-1)  # noqa: E731
    np.testing.assert_allclose(scores.bald(mixed), h(mixed.mean(0)) - h(mixed).mean(0), atol=1e-12)


@pytest.mark.parametrize("fn", [scores.entropy, scores.margin, scores.least_confidence])
@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[0.5, np.nan], [0.5, 0.5]]), "NaN"),
        (np.array([[1.2, -0.2], [0.5, 0.5]]), "negative"),
        (np.array([[0.5, 0.4], [0.5, 0.5]]), "sum to 1"),
        (np.array([0.5, 0.5]), "shape"),
        (np.array([[1.0], [1.0]]), "2 classes"),
    ],
)
def test_bad_input_raises_with_a_message(fn, bad, message):
    with pytest.raises(ValueError, match=message):
        fn(bad)


def test_bald_wants_three_axes():
    with pytest.raises(ValueError, match=r"\(K, N, C\)"):
        scores.bald(np.full((3, 2), 0.5))
