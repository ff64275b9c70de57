"""LURE weights (Farquhar, Gal & Rainforth, "On Statistical Bias in Active Learning: How and When
to Fix It", ICLR 2021): the head's loss weighted so that it estimates the pool's loss without
the bias of labels chosen by a strategy.

M items bought one at a time from a pool of N, the m-th (1-based) drawn with probability q_m
among the N − m + 1 items left, get the weights

    v_m = 1 + (N − M) / (N − m) · (1 / ((N − m + 1) · q_m) − 1),

and the weighted loss (1/M) Σ v_m ℓ_m is unbiased for the pool's mean loss. A uniform draw
(q_m = 1 / (N − m + 1)) gets v_m = 1. The q_m come from the acquisition itself: a batch drawn by
Gumbel-top-k is a sequence of draws without replacement in proportion to the weights
(:func:`al_bench.strategies.sequential_probabilities`), a uniform batch or random share has q_m = 1 / (items left).
Top-k strategies pick with probability 0 or 1, so no weights exist for them.
"""

from __future__ import annotations

import numpy as np

from ..strategies import sequential_probabilities as sequential_probabilities  # where the draws are made

__all__ = ["lure_weights", "sequential_probabilities", "uniform_probabilities"]


def lure_weights(q: np.ndarray, pool_size: int) -> np.ndarray:
    """The weights v_m of the M items bought with sequential probabilities ``q`` (purchase order)
    from a pool of ``pool_size``; float64, (M,). With the whole pool bought (M = N) the labeled
    set is the pool and its plain mean loss is the pool's exactly: every weight is 1 (the
    formula's factor N − M is 0; its last term would be 0/0)."""
    q = np.asarray(q, np.float64)
    n, big_m = int(pool_size), q.size
    if big_m > n:
        raise ValueError(f"LURE weights need at most as many purchases ({big_m}) as pool items ({n})")
    bad = np.flatnonzero(~(np.isfinite(q) & (q > 0) & (q <= 1)))
    if bad.size:
        raise ValueError(f"LURE weights need every acquisition probability in (0, 1]; purchase {bad[0] + 1} of "
                         f"{big_m} has {q[bad[0]]!r} ({bad.size} such)")
    if big_m == n:
        return np.ones(big_m)
    m = np.arange(1, big_m + 1, dtype=np.float64)
    return 1.0 + (n - big_m) / (n - m) * (1.0 / ((n - m + 1) * q) - 1.0)


def uniform_probabilities(n_left: int, k: int) -> np.ndarray:
    """Sequential probabilities of k uniform draws without replacement from ``n_left`` items."""
    return 1.0 / (int(n_left) - np.arange(int(k), dtype=np.float64))
