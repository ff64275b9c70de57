"""select_segmentation: each recipe on given per-image arrays, ids attached; the inputs it checks."""

import numpy as np
import pytest

from al_bench.errors import UserError
from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.segmentation import SEGMENTATION_STRATEGIES, select_segmentation
from al_bench.segmentation.recipes import select_alges, uncertainty_coreset


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
    assert list(al.positions) == list(cand[select_alges(g[cand], 5, np.random.default_rng(3))])
    uc = select_segmentation(ids, 5, "uncertainty_coreset", scores=u, features=x, labeled=lab, weight=0.3)
    assert list(uc.positions) == list(cand[uncertainty_coreset(x[cand], u[cand], 5, 0.3, labeled_features=x[:4])])
    hy = select_segmentation(ids, 5, "hybrid", scores=u, features=x, labeled=lab, shortlist_factor=2)
    assert set(hy.positions) <= set(cand[np.argsort(-u[cand], kind="stable")[:10]])


def test_what_a_recipe_needs_and_bad_values_are_named(data):
    ids, u, g, x = data
    with pytest.raises(UserError, match="needs feature-model embeddings"):
        select_segmentation(ids, 3, "alges_coreset", alges=g)
    with pytest.raises(UserError, match="not finite"):
        select_segmentation(ids, 3, "uncertainty", scores=np.where(np.arange(40) == 7, np.nan, u))
    with pytest.raises(UserError, match="takes"):
        select_segmentation(ids, 3, "alges", alges=g, weight=0.5)
    with pytest.raises(UserError, match="segmentation strategies are"):
        select_segmentation(ids, 3, "badge", scores=u)
    # a NaN outside the candidates is never read
    sel = select_segmentation(ids, 3, "uncertainty", scores=np.where(np.arange(40) == 7, np.nan, u), labeled=[ids[7]])
    assert ids[7] not in sel.ids
