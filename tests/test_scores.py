"""Uncertainty scores against their direct formulas; bad input is named."""

import concurrent.futures

import numpy as np
import pytest

from al_bench import scores


@pytest.fixture
def two_threads(monkeypatch):
    """Records whether bald took its two-thread path, so a large-pool test can check that its
    pool is still large enough to reach it (several blocks split over both threads)."""
    used = []
    real = concurrent.futures.ThreadPoolExecutor

    def recording(*args, **kwargs):
        used.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", recording)
    return used


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "entry, message",
    [(np.nan, "NaN"), (np.inf, "NaN or infinite"), (-0.2, "negative"), (0.3, "sum to 1")],
)
def test_bald_names_a_bad_entry_in_a_large_pool(dtype, entry, message, two_threads):
    # 1.2 M entries: several cache-sized blocks on two threads; one bad entry deep inside
    rng = np.random.default_rng(1)
    mc = rng.dirichlet(np.ones(4), size=(5, 60_000)).astype(dtype)
    mc[3, 47_123, 1] = entry
    if entry < 0:
        mc[3, 47_123, 2] += 0.2  # the row still sums to 1: only the sign is wrong
    with pytest.raises(ValueError, match=message):
        scores.bald(mc)
    assert two_threads, "the pool no longer reaches bald's two-thread path: enlarge it"


def test_bald_exact_zeros_in_some_blocks_only(two_threads):
    # one-hot passes (0·log 0 = 0) in one block, soft ones elsewhere (1.08 M entries: several
    # blocks on two threads): same as the direct formula
    rng = np.random.default_rng(2)
    mc = rng.dirichlet(np.ones(3), size=(6, 60_000))
    mc[:, 40_000:40_100] = np.eye(3)[rng.integers(0, 3, (6, 100))]
    h = lambda q: -(q * np.log(np.where(q > 0, q, 1.0))).sum(-1)  # noqa: E731
    np.testing.assert_allclose(scores.bald(mc), np.maximum(h(mc.mean(0)) - h(mc).mean(0), 0), atol=1e-12)
    assert two_threads, "the pool no longer reaches bald's two-thread path: enlarge it"
