"""uncertainty_coreset: k-center when cold or at weight 0, entropy top-k at weight 1, both in between."""

import numpy as np

from al_bench.kernels.kcenter import kcenter_greedy
from al_bench.scores import entropy
from al_bench.strategies import PoolView, select_batch


def test_weight_zero_is_kcenter_weight_one_is_entropy_and_cold_is_kcenter(head_cache):
    cache, x_pool, labeled = head_cache
    unl = np.setdiff1d(np.arange(len(x_pool)), labeled)
    rng = np.random.default_rng(0)
    cold = PoolView(x_pool, labeled, unl, 3, 0, cache)
    picks, _ = select_batch("uncertainty_coreset", cold, 10, rng, 0.0)
    assert picks.tolist() == kcenter_greedy(x_pool, labeled, 10).tolist()
    warm = PoolView(x_pool, labeled, unl, 3, 1, cache)
    zero, _ = select_batch("uncertainty_coreset", warm, 10, rng, 0.0, {"weight": 0.0})
    assert zero.tolist() == kcenter_greedy(x_pool, labeled, 10).tolist()
    one, _ = select_batch("uncertainty_coreset", warm, 10, rng, 0.0, {"weight": 1.0})
    assert one.tolist() == unl[np.argsort(-entropy(warm.probs()), kind="stable")[:10]].tolist()
    half, _ = select_batch("uncertainty_coreset", warm, 10, rng, 0.0, {"weight": 0.5})
    assert len(set(half.tolist())) == 10 and set(half.tolist()) <= set(unl.tolist())
    ent = dict(zip(unl.tolist(), entropy(warm.probs())))
    mean = lambda p: np.mean([ent[i] for i in p])  # noqa: E731
    assert mean(zero) <= mean(half) <= mean(one)  # more weight, more uncertain picks
