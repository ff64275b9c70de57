"""k-center, k-means++, BADGE, BALD and hybrid: correctness against direct definitions."""

import numpy as np
import pytest

from al_bench.model import softmax
from al_bench.selectors import kcenter_greedy, kmeans_pp, kmeans_pp_factored
from al_bench.strategies import PoolView, select_batch
from al_bench.strategies.badge import gradient_embedding


def brute_kcenter(x, labeled, n):
    """Reference: float64, full distance matrix, exact ties to the lowest index."""
    x = x.astype(np.float64)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    centers = list(labeled)
    picks = []
    for _ in range(n):
        md = d[:, centers].min(axis=1)
        md[centers] = -1
        j = int(np.flatnonzero(md == md.max())[0])
        picks.append(j)
        centers.append(j)
    return picks


@pytest.fixture(params=["dense", "lazy"])
def kcenter_path(request, monkeypatch):
    """Run a k-center test on both code paths: the float64 pairwise matrix for few pickable
    rows, and the lazy blocks (forced at test size by a zero threshold and small blocks)."""
    from al_bench import selectors

    if request.param == "lazy":
        monkeypatch.setattr(selectors, "_DENSE", 0)
        monkeypatch.setattr(selectors, "_BLOCK", 128)
        monkeypatch.setattr(selectors, "_TILE", 128)
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
    from al_bench.selectors import nearest_center

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


def test_kcenter_on_duplicates_never_repeats_and_never_picks_labeled(kcenter_path):
    x = np.zeros((50, 4), np.float32)
    picks = kcenter_greedy(x, np.arange(10), 40)
    assert sorted(picks.tolist()) == list(range(10, 50))


def test_kmeans_pp_picks_a_lone_far_point_second():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (300, 8)), [[50.0] * 8]]).astype(np.float32)
    hits = sum(300 in kmeans_pp(x, 2, np.random.default_rng(s)).tolist() for s in range(200))
    assert hits >= 198


def test_kmeans_pp_draws_follow_d2():
    x = np.array([[10.0, 0], [11.0, 0], [10.0, 2.0], [10.0, -4.0]], np.float32)
    counts = np.zeros(4)
    for s in range(3000):
        counts[kmeans_pp(x, 2, np.random.default_rng(s), first="max_norm")[1]] += 1
    # max_norm picks index 1 (‖(11, 0)‖ = 11 is largest) first; D² to it: 1, 0, 5, 17
    d2 = np.array([1.0, 0.0, 5.0, 17.0])
    np.testing.assert_allclose(counts / 3000, d2 / d2.sum(), atol=0.03)


@pytest.mark.parametrize("row_check_max, loose", [(2048, 128), (1, 0)])
def test_kmeans_pp_later_draws_follow_d2_with_stale_blocks(monkeypatch, row_check_max, loose):
    """Draw 4 of 4 from blocks that missed centers (rejection path; with (1, 0) every stale
    proposal or rejection updates its block): conditional frequencies equal D² to the picks."""
    from al_bench import selectors

    monkeypatch.setattr(selectors, "_KPP_BLOCK", 3)
    monkeypatch.setattr(selectors, "_ROW_CHECK_MAX", row_check_max)
    monkeypatch.setattr(selectors, "_LOOSE", loose)
    x = np.array([[0, 0], [1, 0], [3, 0], [0, 2], [5, 5], [6, 5], [9, 0], [9, 1], [2, 7], [4, 3]], np.float32)
    runs = np.array([kmeans_pp(x, 4, np.random.default_rng(s), first="max_norm") for s in range(12000)])
    prefixes, counts = np.unique(runs[:, :3], axis=0, return_counts=True)
    prefix = prefixes[counts.argmax()]  # the most frequent first three picks
    last = runs[(runs[:, :3] == prefix).all(1), 3]
    d2 = ((x[:, None, :].astype(float) - x[prefix][None]) ** 2).sum(-1).min(1)
    freq = np.bincount(last, minlength=len(x)) / last.size
    assert last.size > 600
    np.testing.assert_allclose(freq, d2 / d2.sum(), atol=4 / np.sqrt(last.size))


def test_kmeans_pp_all_zero_distances_fall_back_to_uniform():
    x = np.ones((20, 3), np.float32)
    picks = kmeans_pp(x, 20, np.random.default_rng(0))
    assert sorted(picks.tolist()) == list(range(20))


def test_gradient_embedding_and_factorized_distances():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    p = softmax(rng.normal(size=(40, 4)))
    g = gradient_embedding(x, p)
    yhat = p.argmax(1)
    for i in (0, 17, 39):
        a = np.eye(4)[yhat[i]] - p[i]
        np.testing.assert_allclose(g[i], np.outer(a, x[i]).ravel())
    # factorized pairwise distances equal explicit ones
    a = np.eye(4)[yhat] - p
    gsq = (a * a).sum(1) * (x * x).sum(1)
    fact = gsq[:, None] + gsq[None, :] - 2 * (a @ a.T) * (x @ x.T)
    explicit = ((g[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(fact, explicit, atol=1e-9)
    # and k-means++ on factors makes the same draws as on the explicit matrix
    f = kmeans_pp_factored(a, x, 10, np.random.default_rng(5), first="max_norm")
    e = kmeans_pp(g, 10, np.random.default_rng(5), first="max_norm")
    assert f.tolist() == e.tolist()


class _Model:
    """Model outputs from fixed probabilities (e.g. a fully confident model)."""

    def __init__(self, x, probs):
        self.x, self.p = x, probs

    def probs(self, pos):
        return self.p[pos]

    def mc_probs(self, pos, k, seed):
        return np.stack([self.p[pos]] * k)

    def gradient_factors(self, pos):
        p = self.p[pos]
        a = p.copy()
        a[np.arange(len(p)), p.argmax(1)] -= 1.0
        return a, np.concatenate([self.x[pos], np.ones((len(pos), 1))], 1)


@pytest.mark.parametrize("name", ["random", "entropy", "margin", "least_confidence", "bald", "kcenter",
                                  "badge", "hybrid"])
def test_duplicates_and_one_hot_model_do_not_break_any_strategy(name):
    x = np.ones((60, 4), np.float32)  # every embedding identical
    probs = np.eye(3)[np.arange(60) % 3]  # fully confident: every uncertainty score is 0
    labeled = np.arange(0, 60, 6)
    view = PoolView(x, labeled, np.setdiff1d(np.arange(60), labeled), 3, 2, _Model(x, probs))
    picks, _ = select_batch(name, view, 25, np.random.default_rng(0), 0.0)
    assert len(set(picks.tolist())) == 25 and not np.isin(picks, labeled).any()


def test_hybrid_cold_start_is_kcenter_and_warm_uses_the_shortlist(head_cache):
    cache, x_pool, labeled = head_cache
    unl = np.setdiff1d(np.arange(len(x_pool)), labeled)
    cold = PoolView(x_pool, labeled, unl, 3, 0, cache)
    picks, _ = select_batch("hybrid", cold, 10, np.random.default_rng(0), 0.0)
    assert picks.tolist() == kcenter_greedy(x_pool, labeled, 10).tolist()
    warm = PoolView(x_pool, labeled, unl, 3, 1, cache)
    picks, _ = select_batch("hybrid", warm, 10, np.random.default_rng(0), 0.0, {"shortlist_factor": 2})
    from al_bench.scores import entropy

    ent = entropy(warm.probs())
    shortlist = set(unl[np.argsort(-ent, kind="stable")[:20]].tolist())
    assert set(picks.tolist()) <= shortlist


def test_random_fraction_share_of_the_batch(head_cache):
    cache, x_pool, labeled = head_cache
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(len(x_pool)), labeled), 3, 3, cache)
    picks, own = select_batch("hybrid", view, 20, np.random.default_rng(0), 0.1)
    assert own.sum() == 18 and len(set(picks.tolist())) == 20


def test_bald_differs_from_entropy(head_cache):
    cache, x_pool, labeled = head_cache
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(len(x_pool)), labeled), 3, 1, cache)
    b, _ = select_batch("bald", view, 20, np.random.default_rng(0))
    e, _ = select_batch("entropy", view, 20, np.random.default_rng(0))
    assert set(b.tolist()) != set(e.tolist())


def test_kcenter_pruning_changes_nothing():
    rng = np.random.default_rng(3)
    x = _clustered(rng, n=3000, d=32, k=20)
    labeled = rng.choice(3000, 30, replace=False)
    pruned = kcenter_greedy(x, labeled, 300, prune=True)
    assert pruned.tolist() == kcenter_greedy(x, labeled, 300, prune=False).tolist()
    assert pruned[:40].tolist() == brute_kcenter(x, labeled, 40)


@pytest.mark.parametrize("seeded", [True, False])
def test_kcenter_block_balls_change_nothing(monkeypatch, seeded):
    """Small blocks make the spatial blocks and their bounding balls kick in at test size."""
    from al_bench import selectors

    monkeypatch.setattr(selectors, "_TILE", 64)
    monkeypatch.setattr(selectors, "_DENSE", 0)
    built = []
    real = selectors._tiles
    monkeypatch.setattr(selectors, "_tiles", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
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


def test_incremental_labeled_distances_equal_a_fresh_search_and_seed_kcenter_alike(kcenter_path):
    from al_bench.loop import LabeledDistance
    from al_bench.selectors import nearest_center

    rng = np.random.default_rng(4)
    x = _clustered(rng, n=800, d=8, k=6)
    order = rng.permutation(800)[:120].tolist()
    ld = LabeledDistance(x)
    for stop in (10, 50, 120):  # three rounds of purchases
        ld.labeled = order[:stop]
        d, near = ld()
    lab = np.array(order)
    fresh_d, j = nearest_center(x, x[lab])
    np.testing.assert_allclose(d, fresh_d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(((x - x[near]) ** 2).sum(1), fresh_d, rtol=1e-4, atol=1e-4)
    picks = kcenter_greedy(x, lab, 50, init=(d, near))
    assert picks.tolist() == kcenter_greedy(x, lab, 50).tolist() == brute_kcenter(x, lab, 50)


def test_kcenter_init_function_is_called_only_on_the_lazy_path(kcenter_path):
    from al_bench.selectors import nearest_center

    rng = np.random.default_rng(6)
    x = _clustered(rng, n=700, d=8, k=6)
    lab = np.sort(rng.choice(700, 30, replace=False))
    calls = []

    def init():
        calls.append(1)
        d, j = nearest_center(x, x[lab])
        return d, lab[j]

    assert kcenter_greedy(x, lab, 40, init=init).tolist() == brute_kcenter(x, lab, 40)
    assert len(calls) == (1 if kcenter_path == "lazy" else 0)  # 670 pickable rows: dense unless forced


def test_selectors_reject_nan_features_naming_the_row():
    x = np.ones((10, 3), np.float32)
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        kcenter_greedy(x, np.array([0]), 2)
    with pytest.raises(ValueError, match="row 7"):
        kmeans_pp(x, 2, np.random.default_rng(0))


def test_fused_bald_equals_bald_of_the_mc_samples(head_cache):
    """The loop's BALD is fused into the chunked MC passes (no (K, U, C) array); it must give
    the scores of the unfused path, rows gathered chunk by chunk included."""
    from al_bench.scores import bald

    cache, x, labeled = head_cache
    head = cache.current()
    rows = np.setdiff1d(np.arange(len(x)), labeled)[::-1].copy()  # unsorted rows, several chunks
    fused = head.bald_scores(x, 7, seed=11, rows=rows, chunk=50)
    np.testing.assert_allclose(fused, bald(head.sample_proba(x[rows], 7, seed=11)), rtol=1e-12, atol=1e-15)
    assert fused.std() > 0
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    np.testing.assert_allclose(view.bald(7, np.random.default_rng(4)),
                               bald(view.mc_probs(7, np.random.default_rng(4))), rtol=1e-12, atol=1e-15)
