"""Selectors: turn scores or features into picked indices. Pure; randomness is an argument.

Memory is bounded: nothing here builds an N × N (or N × C·d) matrix. Distance passes over the
features run in row chunks through BLAS (or FAISS for the many-centers seeding pass).
"""

from __future__ import annotations

import numpy as np

__all__ = ["top_k", "kcenter_greedy", "kmeans_pp", "kmeans_pp_factored"]

_CHUNK = 1 << 15  # rows per distance pass: bounds temporaries to O(chunk) whatever N is


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


def _check_features(features: np.ndarray, name: str = "features") -> np.ndarray:
    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, d), got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contain {int((~np.isfinite(x)).sum())} NaN or infinite values")
    return x


def _min_sq_dist_to_set(x: np.ndarray, sqn: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """min_j ‖x_i − c_j‖² for every row i, float32 (N,); FAISS exact search, chunked over rows."""
    import faiss

    out = np.empty(len(x), np.float32)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(centers, np.float32))
    for s in range(0, len(x), _CHUNK):
        d, _ = index.search(x[s : s + _CHUNK], 1)
        out[s : s + _CHUNK] = d[:, 0]
    return np.maximum(out, 0.0)


def _exact_min_sq_dist(x64: np.ndarray, centers64: np.ndarray) -> np.ndarray:
    """Float64 min_j ‖x_i − c_j‖² by direct differences, for a few rows x64 (m, d)."""
    best = np.full(len(x64), np.inf)
    for s in range(0, len(centers64), 4096):
        diff = x64[:, None, :] - centers64[None, s : s + 4096, :]
        best = np.minimum(best, np.einsum("mkd,mkd->mk", diff, diff).min(axis=1))
    return best


def _update_min(x: np.ndarray, sqn: np.ndarray, min_d: np.ndarray, j: int) -> None:
    """min_d ← min(min_d, ‖x − x_j‖²) in place, in row chunks; entries < 0 (centers) stay."""
    c = x[j]
    cn = sqn[j]
    for s in range(0, len(x), _CHUNK):
        blk = min_d[s : s + _CHUNK]
        dist = x[s : s + _CHUNK] @ c
        dist *= -2.0
        dist += sqn[s : s + _CHUNK]
        dist += cn
        np.maximum(dist, 0.0, out=dist)
        np.minimum(blk, dist, out=blk, where=blk >= 0)


def kcenter_greedy(
    features: np.ndarray,
    labeled: np.ndarray | None,
    n: int,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Greedy k-center (farthest-point) picks, seeded by ``labeled``. (N, d) → (n,) in pick order.

    Each pick is the point whose squared distance to its nearest center (labeled or already
    picked) is largest. A running min-distance vector (float32, N) is updated in BLAS row
    chunks, so extra memory is ≈ 8·N bytes plus O(chunk) temporaries, never N × N.

    The order equals a float64 brute-force greedy: the float32 arg-max is only a shortlist; all
    points within the float32 rounding bound of the maximum are re-scored exactly in float64
    against every center, and exact ties go to the lowest index. With no labeled point the
    first pick is uniform from ``rng``, or, without ``rng``, the point farthest from the mean.
    """
    x = _check_features(features)
    N, d = x.shape
    lab = np.unique(np.asarray(labeled if labeled is not None else [], dtype=np.int64))
    if lab.size and (lab[0] < 0 or lab[-1] >= N):
        raise ValueError(f"labeled indices must lie in [0, {N})")
    n = int(n)
    if not 0 <= n <= N - lab.size:
        raise ValueError(f"cannot pick n={n} from {N - lab.size} unlabeled points")
    if n == 0:
        return np.empty(0, np.int64)
    sqn = np.einsum("ij,ij->i", x, x)
    # float32 error bound of ‖x‖² + ‖c‖² − 2 x·c, relative to the magnitudes involved
    eps = 8.0 * (d + 4) * np.finfo(np.float32).eps
    max_sqn = float(sqn.max())

    # float64 copies of all centers (labeled, then picks), for the exact re-checks: O((L + n)·d)
    centers = np.empty((lab.size + n, d), np.float64)
    centers[: lab.size] = x[lab]
    n_centers = lab.size
    picks = np.empty(n, np.int64)
    taken = np.zeros(N, bool)
    taken[lab] = True
    if lab.size:
        min_d = _min_sq_dist_to_set(x, sqn, x[lab])
        start = 0
    else:
        xc = x - x.mean(0)
        first = int(rng.integers(N)) if rng is not None else int(np.argmax(np.einsum("ij,ij->i", xc, xc)))
        del xc
        picks[0] = first
        min_d = np.full(N, np.inf, np.float32)
        _update_min(x, sqn, min_d, first)
        centers[0], n_centers, taken[first] = x[first], 1, True
        start = 1
    min_d[taken] = -1.0  # centers can never be picked, even when every distance is 0

    for k in range(start, n):
        top = float(min_d.max())
        cand = np.flatnonzero(min_d >= max(top - eps * (2.0 * max_sqn + top), 0.0))
        if cand.size > 1:  # near-tie in float32: decide in float64, lowest index on exact ties
            exact = _exact_min_sq_dist(x[cand].astype(np.float64), centers[:n_centers])
            best = int(cand[np.flatnonzero(exact == exact.max())[0]])
        else:
            best = int(cand[0])
        picks[k] = best
        _update_min(x, sqn, min_d, best)
        min_d[best] = -1.0
        centers[n_centers] = x[best]
        n_centers += 1
    return picks


def _d2_pick(weights: np.ndarray, taken: np.ndarray, rng: np.random.Generator) -> int:
    """One D² draw: index i with probability ∝ weights[i] among the untaken; uniform if all 0."""
    w = np.where(taken, 0.0, weights)
    total = float(w.sum())
    if not np.isfinite(total) or total <= 0.0:
        free = np.flatnonzero(~taken)
        return int(free[rng.integers(free.size)])
    cum = np.cumsum(w)
    i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    i = min(i, len(w) - 1)
    if taken[i] or w[i] <= 0.0:  # only on a rounding edge: move to the next eligible item
        ok = np.flatnonzero((~taken) & (w > 0.0))
        i = int(ok[min(np.searchsorted(ok, i), ok.size - 1)])
    return i


def kmeans_pp(embeddings: np.ndarray, n: int, rng: np.random.Generator, first: str = "random") -> np.ndarray:
    """k-means++ seeding (D² sampling): ``n`` distinct indices. (N, d) → (n,) in pick order.

    ``first`` is ``"random"`` (uniform, as in Arthur & Vassilvitskii) or ``"max_norm"``.
    When every remaining distance is 0 (duplicates), the rest are drawn uniformly.
    """
    x = _check_features(embeddings, "embeddings")
    sqn = np.einsum("ij,ij->i", x, x).astype(np.float64)

    def dist_to(j: int) -> np.ndarray:
        out = np.empty(len(x))
        for s in range(0, len(x), _CHUNK):
            out[s : s + _CHUNK] = sqn[s : s + _CHUNK] + sqn[j] - 2.0 * (x[s : s + _CHUNK] @ x[j])
        return np.maximum(out, 0.0)

    return _kmeans_pp(len(x), sqn, dist_to, n, rng, first)


def kmeans_pp_factored(a: np.ndarray, x: np.ndarray, n: int, rng: np.random.Generator,
                       first: str = "max_norm") -> np.ndarray:
    """k-means++ seeding on g_i = a_i ⊗ x_i without building the (N, C·d) matrix.

    Uses ‖g_i − g_j‖² = ‖a_i‖²‖x_i‖² + ‖a_j‖²‖x_j‖² − 2 (a_i·a_j)(x_i·x_j), so one pick costs
    one pass over ``a`` (N, C) and ``x`` (N, d). The default first center is the largest ‖g‖.
    """
    a = _check_features(a, "a")
    x = _check_features(x, "x")
    if len(a) != len(x):
        raise ValueError(f"a has {len(a)} rows but x has {len(x)}")
    a_sq = np.einsum("ij,ij->i", a, a).astype(np.float64)
    x_sq = np.einsum("ij,ij->i", x, x).astype(np.float64)
    g_sq = a_sq * x_sq

    def dist_to(j: int) -> np.ndarray:
        out = np.empty(len(x))
        for s in range(0, len(x), _CHUNK):
            dots = (a[s : s + _CHUNK] @ a[j]).astype(np.float64) * (x[s : s + _CHUNK] @ x[j])
            out[s : s + _CHUNK] = g_sq[s : s + _CHUNK] + g_sq[j] - 2.0 * dots
        return np.maximum(out, 0.0)

    return _kmeans_pp(len(x), g_sq, dist_to, n, rng, first)


def _kmeans_pp(N: int, sqn: np.ndarray, dist_to, n: int, rng: np.random.Generator, first: str) -> np.ndarray:
    n = int(n)
    if not 0 <= n <= N:
        raise ValueError(f"cannot pick n={n} from {N} points")
    if first not in ("random", "max_norm"):
        raise ValueError(f"first must be 'random' or 'max_norm', got {first!r}")
    picks = np.empty(n, np.int64)
    if n == 0:
        return picks
    taken = np.zeros(N, bool)
    j = int(rng.integers(N)) if first == "random" else int(np.argmax(sqn))
    picks[0], taken[j] = j, True
    min_d = dist_to(j)
    for k in range(1, n):
        j = _d2_pick(min_d, taken, rng)
        picks[k], taken[j] = j, True
        if k + 1 < n:
            np.minimum(min_d, dist_to(j), out=min_d)
    return picks
