"""al_bench.select / select_top: picks on features and model outputs, scores read from the registry."""

import numpy as np
import pytest

import al_bench
from al_bench.errors import UserError
from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.picking import SCORE_MEANING, Selection, score_meaning, select_top
from al_bench.strategies import STRATEGIES, register


@pytest.fixture
def toy_registry(monkeypatch):
    """STRATEGIES with room for strategies registered by a test, restored afterwards."""
    monkeypatch.setattr(STRATEGIES, "_entries", dict(STRATEGIES._entries))
    return STRATEGIES


def _probs(n, c=3, seed=0):
    logits = np.random.default_rng(seed).normal(size=(n, c))
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def test_public_names():
    assert al_bench.select is __import__("al_bench.picking.api", fromlist=["select"]).select
    assert al_bench.Selection is Selection


def test_select_kcenter_equals_the_greedy_and_reports_distances():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    ids = [f"im{i}.png" for i in range(200)]
    sel = al_bench.select(ids, x, 15, "kcenter", labeled=ids[:5])
    ref = kcenter_greedy(x, np.arange(5), 15)
    assert list(sel.ids) == [ids[i] for i in ref]
    # score = Euclidean distance to the nearest labeled-or-earlier pick, hence non-increasing
    d = np.sqrt(((x[ref[3]] - x[np.r_[np.arange(5), ref[:3]]]) ** 2).sum(1)).min()
    assert sel.scores[3] == pytest.approx(d, rel=1e-5)
    assert np.all(np.diff(sel.scores) <= 1e-6)
    assert sel.frame().columns.tolist()[:4] == ["rank", "id", "score", "strategy"]
    assert sel.params["seed"] == 0
    np.testing.assert_array_equal(sel.positions, ref)
    assert sel.by_strategy.all() and sel.stopped == "n"


def test_select_min_distance_stops_kcenter_early():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    ids = [str(i) for i in range(300)]
    full = al_bench.select(ids, x, 100, "kcenter", labeled=ids[:3])
    cut = float(full.scores[40])
    short = al_bench.select(ids, x, 100, "kcenter", labeled=ids[:3], min_distance=cut)
    assert short.stopped == "min_distance"
    assert list(short.ids) == list(full.ids[: len(short)])
    assert (short.scores >= cut).all() and len(short) >= 40 and full.scores[len(short)] < cut
    assert short.params["min_distance"] == cut
    with pytest.raises(UserError, match="k-center stop"):
        al_bench.select(ids, x, 5, "entropy", min_distance=1.0)
    with pytest.raises(UserError, match="random share"):
        al_bench.select(ids, x, 5, "kcenter", min_distance=1.0, random_fraction=0.5)


def test_select_uncertainty_uses_given_probs_and_scores_them():
    ids = ["a", "b", "c", "d"]
    x = np.eye(4, dtype=np.float32)
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.6, 0.4]])
    sel = al_bench.select(ids, x, 2, "margin", probs=probs)
    assert list(sel.ids) == ["b", "d"]
    np.testing.assert_allclose(sel.scores, [1.0, 0.8])  # 1 − (p1 − p2)
    sel = al_bench.select(ids, x, 2, "entropy", probs=probs, labeled=["b"])
    assert list(sel.ids) == ["d", "c"]
    np.testing.assert_allclose(sel.scores[0], -(0.6 * np.log(0.6) + 0.4 * np.log(0.4)))


def test_select_bald_with_given_mc_samples():
    ids = ["same", "split", "sure"]
    mc = np.array([[[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]],
                   [[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]])  # (K=2, N=3, C=2)
    sel = al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "bald", probs=mc)
    assert sel.ids == ("split",)
    assert sel.scores[0] == pytest.approx(np.log(2))  # two opposite one-hot samples: ln 2
    assert sel.params["k"] == 2
    with pytest.raises(UserError, match="MC-dropout samples"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "bald", probs=mc.mean(0))


def test_select_trains_a_head_from_labels_when_no_probs(blobs):
    x, y = blobs
    ids = [f"i{i}" for i in range(len(x))]
    lab = list(range(0, 300, 10))
    sel = al_bench.select(ids, x, 20, "entropy", labeled=[ids[i] for i in lab], labels=[int(y[i]) for i in lab])
    assert len(sel) == 20 and not set(sel.ids) & {ids[i] for i in lab}
    assert "head" in sel.params["model"] and np.isfinite(sel.scores).all()
    with pytest.raises(UserError, match="needs model outputs"):
        al_bench.select(ids, x, 5, "entropy", labeled=[ids[i] for i in lab])


def test_select_names_bad_probability_rows():
    ids = ["a", "b", "c"]
    probs = np.array([[0.5, 0.5], [0.9, 0.3], [0.2, 0.8]])
    with pytest.raises(UserError, match=r"1 row\(s\).*b \(sum 1\.2\)") as err:
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs)
    assert err.value.key == "probs" and str(err.value).startswith("probs: ")
    probs[1] = [np.nan, 0.5]  # NaN is named as such, not as a sum of what is left
    with pytest.raises(UserError, match=r"b \(has NaN\)"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs)
    probs[1] = [np.inf, 0.0]
    with pytest.raises(UserError, match=r"b \(has an infinite value\)"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs)
    probs[1] = [-0.5, 1.5]
    with pytest.raises(UserError, match=r"b \(has a negative value \(-0\.5\)\)"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs)
    mc = np.stack([probs, probs])
    mc[:, 1] = [[0.5, 0.5], [0.9, 0.6]]  # MC samples: the bad sample's sum, not the first one's
    with pytest.raises(UserError, match=r"b \(sum 1\.5\)"):
        al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "bald", probs=mc)
    probs[1] = np.nan  # a labeled row is never read
    assert al_bench.select(ids, np.zeros((3, 2), np.float32), 1, "entropy", probs=probs, labeled=["b"]).ids == ("a",)


@pytest.mark.parametrize("name", sorted(n for n in STRATEGIES if "dropout" not in STRATEGIES.entry(n).needs))
def test_every_strategy_through_the_api(name, blobs):
    x, y = blobs
    ids = [f"i{i}" for i in range(len(x))]
    p = _probs(len(x))
    mc = np.stack([p, p[::-1]])  # K = 2 samples serve bald; their mean the others
    cand = np.ones(len(x), bool)
    cand[100:150] = False  # e.g. dropped by a brightness filter
    sel = al_bench.select(ids, x, 12, name, labeled=ids[:10], probs=mc, rng=3, candidates=cand)
    again = al_bench.select(ids, x, 12, name, labeled=ids[:10], probs=mc, rng=3, candidates=cand)
    assert len(set(sel.ids)) == 12 and not set(sel.ids) & set(ids[:10])
    assert sel.ids == again.ids
    np.testing.assert_array_equal(sel.scores, again.scores)
    assert cand[sel.positions].all() and [ids[i] for i in sel.positions] == list(sel.ids)
    # one score per pick, its meaning declared by the strategy; NaN throughout only for a
    # strategy that gives none (random)
    entry = STRATEGIES.entry(name)
    assert sel.scores.shape == (12,) and sel.scores.dtype == np.float64
    if np.isnan(sel.scores).all():
        assert entry.meta.get("pick_scores") is None and SCORE_MEANING.get(name) == entry.score
    else:
        assert np.isfinite(sel.scores).all() and SCORE_MEANING[name] == entry.score
    assert np.isnan(sel.scores).all() == (name == "random")


def test_a_strategy_that_reruns_the_head_refuses_given_predictions(blobs):
    """DropQuery perturbs the features and runs the head again: given probabilities cannot do that."""
    from al_bench.errors import UserError

    x, _ = blobs
    ids = [f"i{i}" for i in range(len(x))]
    with pytest.raises(UserError, match="dropout passes"):
        al_bench.select(ids, x, 5, "dropquery", labeled=ids[:10], probs=_probs(len(x)), rng=0)


def test_labels_pair_with_ids_in_the_callers_order():
    """A labeled CSV is rarely sorted: labels must follow their own ids, not the sorted order."""
    x = np.array([[-10.0], [10.0], [-9.0], [-9.5], [0.3]], np.float32)
    ids = ["a", "b", "c", "d", "e"]
    # truth: a, c are "lo", b is "hi" (boundary near 0: e is the most uncertain); paired in sorted
    # order instead (a=hi, b=lo, c=lo) the boundary would sit between a and c, next to d
    sel = al_bench.select(ids, x, 1, "entropy", labeled=["b", "a", "c"], labels=["hi", "lo", "lo"])
    same = al_bench.select(ids, x, 1, "entropy", labeled=["a", "b", "c"], labels={"a": "lo", "b": "hi", "c": "lo"})
    assert sel.ids == same.ids == ("e",)
    assert "model" in sel.params  # the head is trained lazily: only strategies that ask train one
    assert "model" not in al_bench.select(ids, x, 1, "kcenter", labeled=["b", "a"], labels=["hi", "lo"]).params


def test_input_errors_name_the_argument():
    ids = ["a", "b", "c"]
    x = np.zeros((3, 2), np.float32)
    cases = [
        (dict(labeled=["a", "zz"]), "labeled: 1 id(s) are not among the 3 ids (first: zz)"),
        (dict(labeled=np.ones(2, bool)), "labeled: a boolean mask must have one entry per id (3)"),
        (dict(candidates=["q"]), "candidates: 1 id(s)"),
        (dict(labeled=["a"], labels=[1, 2]), "labels: 2 given for 1 labeled ids"),
        (dict(strategy="entropy", labeled=["a", "b"], labels=["x", "x"]), "labels: a head needs at least 2 classes"),
        (dict(n=3, labeled=["a"]), "n: 3 asked, but 2 candidate(s) are left (of 3 ids, 1 labeled)"),
        (dict(random_fraction=1.5), "random_fraction: got 1.5; give a share of the batch in [0, 1]"),
        (dict(strategy="kcenter", foo=1), "strategy.params.foo: not a parameter"),
    ]
    for kw, words in cases:
        kw = {"n": 1, **kw}
        with pytest.raises(UserError) as err:
            al_bench.select(ids, x, **kw)
        assert words in str(err.value), (kw, str(err.value))
    with pytest.raises(UserError, match="ids must be unique; repeated: a"):
        al_bench.select(["a", "a", "b"], x, 1)
    with pytest.raises(UserError, match=r"features must be \(N, d\)"):
        al_bench.select(ids, x[:2], 1)
    with pytest.raises(UserError, match=r"strategy\.params\.shortlist_factor: "):  # a value it rejects
        al_bench.select(ids, x, 1, "hybrid", probs=_probs(3), shortlist_factor=0.5)


# -- what the registry tells select(): nothing here names a strategy ---------------------------
def test_a_new_strategy_needs_no_edit_here(toy_registry):
    """Registered with its needs and score meaning (returning its own scores), a strategy is
    usable, scored and described at once."""

    @register("toy_far", needs={"features"}, score="first feature")
    def toy_far(view, n, rng, scale: float = 1.0):
        s = view.embeddings[view.unlabeled, 0] * scale
        order = np.argsort(-s, kind="stable")[:n]
        return view.unlabeled[order], s[order]

    x = np.arange(20, dtype=np.float32)[:, None] * np.array([[1.0, 0.0]], np.float32)
    ids = [f"t{i}" for i in range(20)]
    sel = al_bench.select(ids, x, 3, "toy_far", labeled=["t19"], scale=2.0)
    assert sel.ids == ("t18", "t17", "t16")
    np.testing.assert_array_equal(sel.scores, [36.0, 34.0, 32.0])
    assert sel.params == {"scale": 2.0, "random_fraction": 0.0, "seed": 0, "rng": "al_bench.rng.stream(0, 'pick')"}
    assert SCORE_MEANING["toy_far"] == "first feature" == score_meaning("toy_far")
    # a random share keeps the strategy's picks first and has no strategy score
    mixed = al_bench.select(ids, x, 4, "toy_far", random_fraction=0.5)
    assert mixed.ids[:2] == ("t19", "t18") and mixed.by_strategy.tolist() == [True, True, False, False]
    assert np.isfinite(mixed.scores[:2]).all() and np.isnan(mixed.scores[2:]).all()


def test_needs_and_pick_scores_come_from_the_registration(toy_registry):
    calls = []

    @register("toy_probs", needs={"probs"}, score="p of class 0",
              pick_scores=lambda view, picks: view.model.probs(picks)[:, 0])
    def toy_probs(view, n, rng):
        calls.append(n)
        p = view.probs()[:, 0]
        return view.unlabeled[np.argsort(-p, kind="stable")[:n]], np.zeros(n)  # pick_scores wins

    @register("toy_silent", needs=set(), score=None)
    def toy_silent(view, n, rng):
        return view.unlabeled[:n]

    ids = ["a", "b", "c", "d"]
    x = np.zeros((4, 1), np.float32)
    with pytest.raises(UserError, match="strategy: toy_probs needs model outputs"):
        al_bench.select(ids, x, 1, "toy_probs")
    assert calls == []  # refused before the strategy ran
    p = np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [0.7, 0.3]])
    sel = al_bench.select(ids, x, 2, "toy_probs", probs=p, labeled=["b"])
    assert sel.ids == ("d", "c") and sel.scores.tolist() == [0.7, 0.6]
    silent = al_bench.select(ids, x, 2, "toy_silent")
    assert silent.ids == ("a", "b") and np.isnan(silent.scores).all()
    assert "toy_silent" not in SCORE_MEANING and score_meaning("toy_silent") == "none"


# -- select_top --------------------------------------------------------------------------------
def test_select_top_ranks_candidates_by_their_scores():
    ids = [f"x{i}" for i in range(6)]
    sc = np.array([0.1, 0.9, 0.5, 0.9, 0.3, 0.8])
    sel = select_top(ids, sc, 3, labeled=["x1"], candidates=["x0", "x1", "x2", "x3", "x5"], name="detection:box_entropy")
    assert sel.ids == ("x3", "x5", "x2") and sel.scores.tolist() == [0.9, 0.8, 0.5]
    assert sel.strategy == "detection:box_entropy" and sel.params == {"seed": 0, "rng": "al_bench.rng.stream(0, 'pick')"}
    assert score_meaning(sel.strategy) == "box_entropy score of the detection predictions (higher = more informative)"
    # exact ties are broken by the seed, reproducibly
    tie = np.ones(6)
    assert select_top(ids, tie, 3, rng=1).ids == select_top(ids, tie, 3, rng=1).ids
    assert len({select_top(ids, tie, 3, rng=s).ids for s in range(8)}) > 1
    with pytest.raises(UserError, match=r"image_scores: 1 candidate\(s\) have no finite score \(first: x4\)"):
        select_top(ids, np.where(np.arange(6) == 4, np.nan, sc), 2)
    select_top(ids, np.where(np.arange(6) == 4, np.nan, sc), 2, labeled=["x4"])  # a labeled NaN is not read
    with pytest.raises(UserError, match=r"image_scores must be \(N,\)"):
        select_top(ids, sc[:5], 2)


def test_a_selection_names_the_picks_predicted_class_when_its_model_has_class_names(blobs):
    x, y = blobs
    ids = [f"i{k}" for k in range(len(x))]
    names = ["ant", "bee", "cow"]
    labels = [names[v] for v in y[:30]]
    got = al_bench.select(ids, x, 5, "margin", labeled=ids[:30], labels=labels, rng=0)
    head = al_bench.picking.api._train_head(np.asarray(x, np.float32), np.arange(30), y[:30])  # the head it trained
    p = head.predict_proba(np.asarray(x, np.float32)[[int(i[1:]) for i in got.ids]])
    assert got.predicted == tuple((names[k], pytest.approx(float(p[i, k]))) for i, k in enumerate(p.argmax(1)))
    # no head trained (typiclust reads no model), or predictions without class names: none
    assert al_bench.select(ids, x, 5, "typiclust", labeled=ids[:30], labels=labels, rng=0).predicted is None
    probs = np.full((len(x), 3), 1 / 3)
    assert al_bench.select(ids, x, 5, "margin", labeled=ids[:30], probs=probs, rng=0).predicted is None
