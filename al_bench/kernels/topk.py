"""Top-k: the indices of the highest scores, exact ties broken at random. Pure; randomness is an argument."""

from __future__ import annotations

import numpy as np

__all__ = ["top_k"]


def top_k(scores: np.ndarray, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first. (N,) → (n,).

    Exact ties are broken uniformly at random with ``rng`` (by lowest index when ``rng`` is
    None), so a block of equal scores never favours the start of the pool.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores contain {int((~np.isfinite(s)).sum())} NaN or infinite values")
    n = int(n)
    if not 0 <= n <= s.size:
        raise ValueError(f"cannot pick n={n} items from {s.size} scores")
    order = np.arange(s.size) if rng is None else rng.permutation(s.size)
    # stable sort on -score keeps the (random) permutation order among equal scores
    best = order[np.argsort(-s[order], kind="stable")[:n]]
    return best.astype(np.int64)
