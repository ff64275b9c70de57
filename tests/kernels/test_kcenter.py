"""kcenter_greedy: the same picks as a float64 brute-force greedy, on every code path."""

import numpy as np
import pytest

from al_bench.kernels import kcenter
from al_bench.kernels.distances import nearest_center
from al_bench.kernels.kcenter import kcenter_greedy
from support import brute_kcenter


@pytest.fixture(params=["dense", "lazy"])
def kcenter_path(request, monkeypatch):
    """Run a k-center test on both code paths, whatever the default thresholds: the float64
    pairwise matrix (forced by a threshold above any test's size), and the lazy blocks (forced
    by a zero threshold, with blocks small enough that a test-sized pool spans many of them)."""
    if request.param == "dense":
        monkeypatch.setattr(kcenter, "_DENSE", 1 << 30)
    else:
        monkeypatch.setattr(kcenter, "_DENSE", 0)
        monkeypatch.setattr(kcenter, "_BLOCK", 128)
        monkeypatch.setattr(kcenter, "_TILE", 128)
    return request.param


def _clustered(rng, n=600, d=16, k=5):
    centers = rng.normal(0, 10, (k, d))
    return (centers[rng.integers(0, k, n)] + rng.normal(0, 0.5, (n, d))).astype(np.float32)


@pytest.mark.parametrize("kind", ["gaussian", "clustered"])
def test_kcenter_matches_float64_brute_force(kind, kcenter_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)).astype(np.float32) if kind == "gaussian" else _clustered(rng)
    labeled = rng.choice(len(x), 7, replace=False)
    assert kcenter_greedy(x, labeled, 60).tolist() == brute_kcenter(x, labeled, 60)


@pytest.mark.parametrize("kind", ["gaussian", "clustered"])
@pytest.mark.parametrize("use_init", [False, True])
def test_kcenter_with_most_of_the_pool_labeled_matches_brute_force(kind, use_init, kcenter_path):
    """Late rounds (labeled > N/4) run on a compact copy of the unlabeled rows: same order."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 12)).astype(np.float32) if kind == "gaussian" else _clustered(rng, 500)
    labeled = np.sort(rng.choice(len(x), 300, replace=False))
    init = None
    if use_init:
        d, j = nearest_center(x, x[labeled])
        init = (d, labeled[j])
    picks = kcenter_greedy(x, labeled, 50, init=init, prune=True)
    assert picks.tolist() == brute_kcenter(x, labeled, 50)
    assert not np.isin(picks, labeled).any()


def test_kcenter_near_tie_is_decided_in_float64(kcenter_path):
    # two candidates whose distances to the center differ by less than float32 resolution at
    # this magnitude; float32 arithmetic cannot tell them apart, float64 can
    big = 4096.0
    x = np.array([[big, 0.0], [big + 1.0, 0.0], [big, 1.0 + 2**-10], [big, -1.0]], np.float32)
    ref = brute_kcenter(x, [0], 3)
    assert ref[0] == 2
    assert kcenter_greedy(x, np.array([0]), 3).tolist() == ref


@pytest.mark.parametrize("n_labeled", [3, 250])
def test_kcenter_recurring_ties_on_a_lattice_match_brute_force(n_labeled, kcenter_path):
    """Integer lattice: the same tied rows are re-checked pick after pick (the float64 re-check
    reuses earlier results and scores only the newer centers); order must stay exact."""
    g = np.stack(np.meshgrid(np.arange(20), np.arange(20)), -1).reshape(-1, 2)
    x = np.concatenate([g, (g * 7) % 5], axis=1).astype(np.float32)  # 400 points, many ties
    labeled = np.sort(np.random.default_rng(2).choice(len(x), n_labeled, replace=False))
    assert kcenter_greedy(x, labeled, 120).tolist() == brute_kcenter(x, labeled, 120)


def test_kcenter_exact_ties_go_to_the_lowest_index(kcenter_path):
    x = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], np.float32)
    assert kcenter_greedy(x, np.array([0]), 4).tolist() == [1, 2, 3, 4]


def test_kcenter_without_labeled_set(kcenter_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    picks = kcenter_greedy(x, None, 10)
    assert len(set(picks.tolist())) == 10
    assert picks.tolist() == kcenter_greedy(x, np.array([], np.int64), 10).tolist()
    assert picks[1:].tolist() == brute_kcenter(x, [int(picks[0])], 9)
    # without rng the first pick is the point farthest from the mean; with one, it is drawn from it
    assert picks[0] == int(((x.astype(np.float64) - x.mean(0)) ** 2).sum(1).argmax())
    firsts = [int(kcenter_greedy(x, None, 1, np.random.default_rng(s))[0]) for s in range(20)]
    assert len(set(firsts)) > 10 and firsts == [int(kcenter_greedy(x, None, 1, np.random.default_rng(s))[0])
                                                for s in range(20)]


def test_kcenter_on_duplicates_never_repeats_and_never_picks_labeled(kcenter_path):
    x = np.zeros((50, 4), np.float32)
    picks = kcenter_greedy(x, np.arange(10), 40)
    assert sorted(picks.tolist()) == list(range(10, 50))


def test_kcenter_init_function_is_called_only_on_the_lazy_path(kcenter_path):
    rng = np.random.default_rng(6)
    x = _clustered(rng, n=700, d=8, k=6)
    lab = np.sort(rng.choice(700, 30, replace=False))
    calls = []

    def init():
        calls.append(1)
        d, j = nearest_center(x, x[lab])
        return d, lab[j]

    assert kcenter_greedy(x, lab, 40, init=init).tolist() == brute_kcenter(x, lab, 40)
    assert len(calls) == (1 if kcenter_path == "lazy" else 0)  # the dense path computes exact distances itself


@pytest.fixture
def spatial_blocks(monkeypatch):
    """Lazy path with spatial blocks at test size: they only pay (and are only built) for pools
    over twice the block size, so the lazy path is forced and the block size made small. Returns
    the list of what :func:`kcenter._tiles` built, and the real ``_tiles``."""
    monkeypatch.setattr(kcenter, "_DENSE", 0)
    monkeypatch.setattr(kcenter, "_TILE", 64)
    built = []
    real = kcenter._tiles
    monkeypatch.setattr(kcenter, "_tiles", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    return built, real


@pytest.mark.parametrize("seeded", [True, False])
def test_kcenter_block_balls_change_nothing(spatial_blocks, seeded):
    built, real = spatial_blocks
    rng = np.random.default_rng(5)
    x = _clustered(rng, n=1500, d=24, k=30)
    labeled = rng.choice(1500, 40, replace=False) if seeded else None
    lazy = kcenter_greedy(x, labeled, 200, prune=True)
    assert built and built[0] is not None  # clustered: the balls are used
    assert lazy.tolist() == kcenter_greedy(x, labeled, 200, prune=False).tolist()
    if seeded:
        assert lazy[:60].tolist() == brute_kcenter(x, labeled, 60)
    # on Gaussian data the balls would be as wide as the space: plain row slices instead
    assert real(rng.normal(size=(1500, 24)).astype(np.float32), 64) is None


def test_kcenter_pruning_changes_nothing_on_many_clusters(spatial_blocks):
    built, _ = spatial_blocks
    rng = np.random.default_rng(3)
    x = _clustered(rng, n=3000, d=32, k=20)
    labeled = rng.choice(3000, 30, replace=False)
    pruned = kcenter_greedy(x, labeled, 300, prune=True)
    assert built and built[0] is not None
    assert pruned.tolist() == kcenter_greedy(x, labeled, 300, prune=False).tolist()
    assert pruned[:40].tolist() == brute_kcenter(x, labeled, 40)


def test_kcenter_checks_its_arguments():
    x = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match="labeled indices"):
        kcenter_greedy(x, np.array([5]), 1)
    with pytest.raises(ValueError, match="cannot pick"):
        kcenter_greedy(x, np.array([0, 1]), 4)
    assert kcenter_greedy(x, None, 0).tolist() == []
