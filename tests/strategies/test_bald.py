"""bald: it ranks by the mutual information of the MC samples; the fused scores equal the unfused ones."""

import numpy as np

from al_bench.scores import bald
from al_bench.strategies import PoolView, select_batch


def test_bald_picks_the_highest_mutual_information_of_the_mc_samples(head_cache):
    cache, x, labeled = head_cache
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    picks, _, got = select_batch("bald", view, 20, np.random.default_rng(0), with_scores=True)
    # the samples' seed is the first draw from the strategy's rng, so the same rng state gives the same passes
    ref = bald(view.mc_probs(20, np.random.default_rng(0)))
    at = np.searchsorted(view.unlabeled, picks)
    np.testing.assert_allclose(got, ref[at], rtol=1e-9, atol=1e-12)
    assert ref[at].min() >= np.delete(ref, at).max() - 1e-12  # the top 20, nothing else
    assert np.all(np.diff(got) <= 1e-12)  # best first


def test_fused_bald_equals_bald_of_the_mc_samples(head_cache):
    """The loop's BALD is fused into the chunked MC passes (no (K, U, C) array); it must give
    the scores of the unfused path, rows gathered chunk by chunk included."""
    cache, x, labeled = head_cache
    head = cache.current()
    rows = np.setdiff1d(np.arange(len(x)), labeled)[::-1].copy()  # unsorted rows, several chunks
    fused = head.bald_scores(x, 7, seed=11, rows=rows, chunk=50)
    np.testing.assert_allclose(fused, bald(head.sample_proba(x[rows], 7, seed=11)), rtol=1e-12, atol=1e-15)
    assert fused.std() > 0
    view = PoolView(x, labeled, np.setdiff1d(np.arange(len(x)), labeled), 3, 1, cache)
    np.testing.assert_allclose(view.bald(7, np.random.default_rng(4)),
                               bald(view.mc_probs(7, np.random.default_rng(4))), rtol=1e-12, atol=1e-15)
