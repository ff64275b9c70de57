"""Lloyd's k-means, deterministic for a given ``rng``: k-means++ seeding, then assignment and
centroid steps, each assignment one chunked GEMM pass (:func:`nearest_center`)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .distances import _check_features, nearest_center
from .kmeanspp import kmeans_pp

__all__ = ["kmeans"]


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(centers (k, d) float32, assignment (N,) int64) after at most ``iters`` Lloyd steps.

    Stops early when no assignment changes. A cluster that empties keeps its last center.
    """
    x = _check_features(x, "x")
    k = int(k)
    if not 1 <= k <= len(x):
        raise ValueError(f"kmeans needs 1 <= k <= N = {len(x)}, got k = {k}")
    centers = np.ascontiguousarray(x[kmeans_pp(x, k, rng)], np.float32)
    assign = None
    for _ in range(max(1, int(iters))):
        _, new = nearest_center(x, centers)
        new = new.astype(np.int64)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        counts = np.bincount(assign, minlength=k)
        # cluster sums as one sparse (k × n) one-hot product: O(n·d), unlike np.add.at's
        # unbuffered per-row scatter, which dominated a Lloyd step at tens of thousands of rows
        onehot = sparse.csr_matrix((np.ones(len(assign)), (assign, np.arange(len(assign)))), shape=(k, len(assign)))
        sums = np.asarray(onehot @ x.astype(np.float64, copy=False))
        filled = counts > 0
        centers[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return centers, assign
