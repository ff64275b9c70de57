"""hybrid: k-center when cold, k-center within the entropy shortlist when warm; the random share."""

import numpy as np

from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.scores import entropy
from al_bench.strategies import PoolView, select_batch


def test_hybrid_cold_start_is_kcenter_and_warm_uses_the_shortlist(head_cache):
    cache, x_pool, labeled = head_cache
    unl = np.setdiff1d(np.arange(len(x_pool)), labeled)
    cold = PoolView(x_pool, labeled, unl, 3, 0, cache)
    picks, _ = select_batch("hybrid", cold, 10, np.random.default_rng(0), 0.0)
    assert picks.tolist() == kcenter_greedy(x_pool, labeled, 10).tolist()
    warm = PoolView(x_pool, labeled, unl, 3, 1, cache)
    picks, _ = select_batch("hybrid", warm, 10, np.random.default_rng(0), 0.0, {"shortlist_factor": 2})
    ent = entropy(warm.probs())
    shortlist = unl[np.argsort(-ent, kind="stable")[:20]]
    assert set(picks.tolist()) <= set(shortlist.tolist())
    # within the shortlist, the picks are k-center's, seeded by the labeled set
    rows = np.concatenate([labeled, np.sort(shortlist)])
    expected = rows[kcenter_greedy(x_pool[rows], np.arange(labeled.size), 10)]
    assert picks.tolist() == expected.tolist()


def test_random_fraction_share_of_the_batch(head_cache):
    cache, x_pool, labeled = head_cache
    view = PoolView(x_pool, labeled, np.setdiff1d(np.arange(len(x_pool)), labeled), 3, 3, cache)
    picks, own = select_batch("hybrid", view, 20, np.random.default_rng(0), 0.1)
    assert own.sum() == 18 and len(set(picks.tolist())) == 20
    assert not own[18:].any()  # the random share comes last
