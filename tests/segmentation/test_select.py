"""select_segmentation: each recipe on given per-image arrays, ids attached; the inputs it checks;
one name, one algorithm (``kcenter`` is the classification strategy; ``shortlist_kcenter`` and
``ranked_batch`` are ``hybrid``'s and ``uncertainty_coreset``'s selectors on a given uncertainty);
the deprecated names."""

import logging

import numpy as np
import pytest

from al_bench import scores, select
from al_bench.errors import UserError
from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.kernels.ranked_batch import ranked_batch
from al_bench.rng import stream
from al_bench.segmentation import SEGMENTATION_STRATEGIES, select_segmentation
from al_bench.segmentation.recipes import ALIASES
from al_bench.segmentation.recipes.alges import select_alges


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 40
    ids = [f"img{i:02d}.png" for i in range(n)]
    return ids, rng.random(n), rng.normal(size=(n, 12)).astype(np.float32), rng.normal(size=(n, 5)).astype(np.float32)


def test_every_recipe_picks_distinct_unlabeled_candidates(data):
    ids, u, g, x = data
    lab, cand = ids[:5], ids[:30]
    for s in SEGMENTATION_STRATEGIES:
        sel = select_segmentation(ids, 6, s, scores=u, alges=g, features=x, labeled=lab, candidates=cand, rng=1)
        assert len(set(sel.ids)) == 6 and set(sel.ids) <= set(ids[5:30]), s
        assert np.allclose(sel.scores, u[sel.positions])  # each pick's uncertainty


def test_recipes_equal_their_kernels_on_the_candidate_rows(data):
    ids, u, g, x = data
    lab = np.zeros(len(ids), bool)
    lab[:4] = True
    cand = np.arange(4, 40)
    top = select_segmentation(ids, 5, "uncertainty", scores=u, labeled=lab)
    assert list(top.positions) == list(cand[np.argsort(-u[cand], kind="stable")[:5]])
    kc = select_segmentation(ids, 5, "kcenter", features=x, labeled=lab)
    assert list(kc.positions) == list(kcenter_greedy(x, np.arange(4), 5))
    al = select_segmentation(ids, 5, "alges", alges=g, labeled=lab, rng=3)
    assert list(al.positions) == list(cand[select_alges(g[cand], 5, stream(3, "pick"))])  # an int seed: its pick stream
    rb = select_segmentation(ids, 5, "ranked_batch", scores=u, features=x, labeled=lab, weight=0.3)
    assert list(rb.positions) == list(cand[ranked_batch(x[cand], u[cand], 5, 0.3, labeled_features=x[:4])])
    sk = select_segmentation(ids, 5, "shortlist_kcenter", scores=u, features=x, labeled=lab, shortlist_factor=2)
    assert set(sk.positions) <= set(cand[np.argsort(-u[cand], kind="stable")[:10]])


@pytest.mark.parametrize("labeled", [0, 6])
def test_kcenter_is_the_classification_strategy(data, labeled):
    """The recipe runs the strategy ``kcenter`` itself: the same picks as ``al_bench.select``
    with the same features, labeled set, candidates and seed (the first pick random when nothing
    is labeled)."""
    ids, u, g, x = data
    lab, cand = ids[:labeled], ids[2:35]
    for seed in (0, 7):
        seg = select_segmentation(ids, 8, "kcenter", features=x, labeled=lab, candidates=cand, rng=seed)
        cls = select(ids, x, 8, "kcenter", labeled=lab, candidates=cand, rng=seed)
        assert seg.positions.tolist() == cls.positions.tolist()


@pytest.mark.parametrize("labeled", [0, 300, 1500])
def test_kcenter_is_the_classification_strategy_on_its_lazy_paths(labeled):
    """More than 2,048 candidates (kcenter_greedy's lazy paths, with few and with many labeled):
    still the strategy's picks."""
    rng = np.random.default_rng(labeled)
    x = rng.normal(size=(3000 + labeled, 6)).astype(np.float32)
    ids = [f"i{k}" for k in range(len(x))]
    lab = ids[:labeled]
    seg = select_segmentation(ids, 30, "kcenter", features=x, labeled=lab, rng=2)
    assert seg.positions.tolist() == select(ids, x, 30, "kcenter", labeled=lab, rng=2).positions.tolist()


@pytest.mark.parametrize("recipe, strategy", [("shortlist_kcenter", "hybrid"), ("ranked_batch", "uncertainty_coreset")])
@pytest.mark.parametrize("labeled", [0, 5])
def test_the_renamed_recipes_are_the_strategies_selectors_on_a_given_uncertainty(data, recipe, strategy, labeled):
    """Given per-image uncertainty equal to the predictive entropy of some probabilities, the recipe
    picks what the classification strategy picks from those probabilities: the same selector; only
    the uncertainty differs (the segmentation model's, not a classifier's entropy), hence the name."""
    ids, _, _, x = data
    probs = np.random.default_rng(5).dirichlet(np.ones(4) * 0.7, size=len(ids))
    lab = ids[:labeled]
    for seed in (0, 3):
        seg = select_segmentation(ids, 7, recipe, scores=scores.entropy(probs), features=x, labeled=lab, rng=seed)
        cls = select(ids, x, 7, strategy, labeled=lab, probs=probs, rng=seed)
        assert seg.positions.tolist() == cls.positions.tolist()


@pytest.mark.parametrize("old, new", sorted(ALIASES.items()))
def test_a_deprecated_name_runs_its_recipe_with_a_one_line_notice(data, old, new, caplog):
    ids, u, g, x = data
    kw = dict(scores=u, features=x, labeled=ids[:3], rng=4)
    with caplog.at_level(logging.WARNING, logger="al_bench.segmentation"):
        sel = select_segmentation(ids, 6, old, **kw)
    assert sel.positions.tolist() == select_segmentation(ids, 6, new, **kw).positions.tolist()
    assert sel.strategy == old  # the selection keeps the name it was asked by
    notices = [r.getMessage() for r in caplog.records if r.name == "al_bench.segmentation"]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert f"{old!r} is deprecated: use {new!r}" in notices[0]


def test_what_a_recipe_needs_and_bad_values_are_named(data):
    ids, u, g, x = data
    with pytest.raises(UserError, match="needs feature-model embeddings"):
        select_segmentation(ids, 3, "alges_coreset", alges=g)
    with pytest.raises(UserError, match="not finite"):
        select_segmentation(ids, 3, "uncertainty", scores=np.where(np.arange(40) == 7, np.nan, u))
    with pytest.raises(UserError, match="takes"):
        select_segmentation(ids, 3, "alges", alges=g, weight=0.5)
    with pytest.raises(UserError, match="segmentation strategies are") as err:
        select_segmentation(ids, 3, "badge", scores=u)
    assert "ranked_batch" in str(err.value) and "hybrid" not in str(err.value)  # current names only
    with pytest.raises(UserError, match=r"^--param: hybrid takes \['shortlist_factor'\], not \['weight'\]"):
        select_segmentation(ids, 3, "hybrid", scores=u, features=x, weight=0.5)
    # a NaN outside the candidates is never read
    sel = select_segmentation(ids, 3, "uncertainty", scores=np.where(np.arange(40) == 7, np.nan, u), labeled=[ids[7]])
    assert ids[7] not in sel.ids


def test_the_command_takes_a_deprecated_name_and_checks_it_before_reading_an_image(tmp_path, capsys):
    from al_bench.cli.select import main

    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"never read")
    model = tmp_path / "seg.pt"
    model.write_bytes(b"never read")
    base = ["--images-dir", str(images), "-n", "1", "--task", "segmentation", "--model", str(model),
            "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "--strategy", "hybrid", "--param", "shortlist_factor=0.5"]) == 2
    assert "shortlist_factor=0.5: give a number >= 1" in capsys.readouterr().err
    assert main([*base, "--strategy", "uncertainty_coreset", "--param", "weight=2"]) == 2
    assert "weight=2.0: give a number in [0, 1] (0 = k-center, 1 = uncertainty)" in capsys.readouterr().err
    assert main([*base, "--strategy", "ranked_batch", "--param", "weight=-1"]) == 2
    assert "weight=-1.0: give a number in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
