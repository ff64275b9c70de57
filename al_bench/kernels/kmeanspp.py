"""k-means++ seeding (D² sampling), exact in distribution, lazily by rejection; memory-bounded.

Adding a center only lowers distances, so stale distances are upper bounds: a draw proposes a
row from the bounds and accepts it with probability (current / bound). A pick then costs one
row's distances and now and then a block update, not a pass over all N rows. The factored form
works on g_i = a_i ⊗ x_i (BADGE's gradient embeddings) without building the (N, C·d) matrix.
"""

from __future__ import annotations

import numpy as np

from .distances import _check_features

__all__ = ["kmeans_pp", "kmeans_pp_factored"]

_KPP_BLOCK = 2048  # rows per block of distance bounds
_ROW_CHECK_MAX = 2048  # past this many missed centers a proposal updates its block
_LOOSE = 128  # a rejection in a block that missed more centers updates the block


def kmeans_pp(embeddings: np.ndarray, n: int, rng: np.random.Generator, first: str = "random") -> np.ndarray:
    """k-means++ seeding (D² sampling): ``n`` distinct indices. (N, d) → (n,) in pick order.

    ``first`` is ``"random"`` (uniform, as in Arthur & Vassilvitskii) or ``"max_norm"``.
    When every remaining distance is 0 (duplicates), the rest are drawn uniformly.
    """
    x = _check_features(embeddings, "embeddings")
    sqn = np.einsum("ij,ij->i", x, x).astype(np.float64)

    cx = np.empty((max(int(n), 0), x.shape[1]), np.float32)  # the picked rows, in pick order
    c_sq = np.empty(max(int(n), 0))

    def add(k: int, j: int) -> None:
        cx[k], c_sq[k] = x[j], sqn[j]

    def dist(lo: int, hi: int, s: int, e: int) -> np.ndarray:
        out = (x[lo:hi] @ cx[s:e].T).astype(np.float64)
        out *= -2.0
        out += sqn[lo:hi, None]
        out += c_sq[None, s:e]
        return np.maximum(out, 0.0, out=out)

    return _kmeans_pp(len(x), sqn, add, dist, n, rng, first)


def kmeans_pp_factored(a: np.ndarray, x: np.ndarray, n: int, rng: np.random.Generator,
                       first: str = "max_norm") -> np.ndarray:
    """k-means++ seeding on g_i = a_i ⊗ x_i without building the (N, C·d) matrix.

    Uses ‖g_i − g_j‖² = ‖a_i‖²‖x_i‖² + ‖a_j‖²‖x_j‖² − 2 (a_i·a_j)(x_i·x_j): distances of a
    block of rows to some centers are two GEMMs, on ``a`` (N, C) and ``x`` (N, d). The default
    first center is the largest ‖g‖.
    """
    a = _check_features(a, "a")
    x = _check_features(x, "x")
    if len(a) != len(x):
        raise ValueError(f"a has {len(a)} rows but x has {len(x)}")
    a_sq = np.einsum("ij,ij->i", a, a).astype(np.float64)
    x_sq = np.einsum("ij,ij->i", x, x).astype(np.float64)
    g_sq = a_sq * x_sq

    ca = np.empty((max(int(n), 0), a.shape[1]), np.float32)  # the picked rows' factors, in order
    cx = np.empty((max(int(n), 0), x.shape[1]), np.float32)
    c_sq = np.empty(max(int(n), 0))

    def add(k: int, j: int) -> None:
        ca[k], cx[k], c_sq[k] = a[j], x[j], g_sq[j]

    def dist(lo: int, hi: int, s: int, e: int) -> np.ndarray:
        out = (a[lo:hi] @ ca[s:e].T).astype(np.float64)
        out *= x[lo:hi] @ cx[s:e].T
        out *= -2.0
        out += g_sq[lo:hi, None]
        out += c_sq[None, s:e]
        return np.maximum(out, 0.0, out=out)

    return _kmeans_pp(len(x), g_sq, add, dist, n, rng, first)


def _draw(cum: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> int:
    """Index i with probability ∝ weights[i] (> 0 somewhere), from their cumulative sums."""
    i = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(cum) - 1)
    if weights[i] <= 0.0:  # only on a rounding edge: the next item with weight
        ok = np.flatnonzero(weights > 0.0)
        i = int(ok[min(np.searchsorted(ok, i), ok.size - 1)])
    return i


def _kmeans_pp(N: int, sqn: np.ndarray, add, dist, n: int, rng: np.random.Generator,
               first: str) -> np.ndarray:
    """D² sampling, lazily: ``add(k, j)`` stores row j as center k, ``dist(lo, hi, s, e)`` →
    (hi − lo, e − s) squared distances of rows lo:hi to centers s:e.

    Every row keeps ``u``, its squared distance to the nearest center as of its block's last
    update: an upper bound on the current one, since centers only get added. A draw proposes
    a block ∝ its sum of ``u``, then a row ∝ ``u`` within it; if the block missed some centers
    the row's current distance is computed against the centers the block missed and the row
    is accepted with probability (current distance) / (proposed ``u``), else the draw is
    repeated with the tightened bounds. A rejection in a block that missed over ``_LOOSE``
    centers (its bounds are loose) brings the whole block up to date by GEMM, as does any
    proposal in one that missed over ``_ROW_CHECK_MAX``. This is rejection sampling with an envelope that only tightens,
    so every accepted row is drawn exactly ∝ its current D² (Arthur & Vassilvitskii), while a
    pick costs one row's distances and now and then a block update instead of a pass over all
    N rows. Rows already picked weigh 0; when all weights are 0 (duplicates, a fully confident
    model) the draw is uniform among the rest.
    """
    n = int(n)
    if not 0 <= n <= N:
        raise ValueError(f"cannot pick n={n} from {N} points")
    if first not in ("random", "max_norm"):
        raise ValueError(f"first must be 'random' or 'max_norm', got {first!r}")
    picks = np.empty(n, np.int64)
    if n == 0:
        return picks
    block = _KPP_BLOCK
    starts = np.arange(0, N + block, block).clip(max=N)
    starts = starts[: np.searchsorted(starts, N) + 1]
    nb = starts.size - 1
    taken = np.zeros(N, bool)
    j = int(rng.integers(N)) if first == "random" else int(np.argmax(sqn))
    picks[0], taken[j] = j, True
    add(0, j)
    u = np.empty(N)
    for b in range(nb):
        u[starts[b] : starts[b + 1]] = dist(int(starts[b]), int(starts[b + 1]), 0, 1)[:, 0]
    u[j] = 0.0
    seen = np.ones(nb, np.int64)  # centers each block is up to date with
    usum = np.add.reduceat(u, starts[:-1])

    def refresh(b: int, lo: int, hi: int, k: int) -> None:
        """Bring block b up to date with the first k centers, ≤ 512 centers a GEMM."""
        for s in range(int(seen[b]), k, 512):
            np.minimum(u[lo:hi], dist(lo, hi, s, min(s + 512, k)).min(axis=1), out=u[lo:hi])
        seen[b] = k

    for k in range(1, n):
        while True:
            if not usum.sum() > 0.0:  # every weight is 0: uniform among the rest
                free = np.flatnonzero(~taken)
                i = int(free[rng.integers(free.size)])
                b = int(np.searchsorted(starts, i, side="right")) - 1
                break
            b = _draw(np.cumsum(usum), usum, rng)
            lo, hi = int(starts[b]), int(starts[b + 1])
            ub = u[lo:hi]
            t = _draw(np.cumsum(ub), ub, rng)
            i, proposed = lo + t, float(ub[t])
            if seen[b] == k:  # up to date: the proposal is the D² draw itself
                break
            missed = k - int(seen[b])
            if missed <= _ROW_CHECK_MAX:  # the proposed row's distance to the centers it missed
                ub[t] = min(proposed, float(dist(i, i + 1, int(seen[b]), k).min()))
            else:
                refresh(b, lo, hi, k)
            accept = rng.random() * proposed < ub[t]
            if not accept and _LOOSE < missed <= _ROW_CHECK_MAX:  # rejected: the bounds are loose
                refresh(b, lo, hi, k)
            usum[b] = ub.sum()
            if accept:
                break
        picks[k], taken[i] = i, True
        add(k, i)
        u[i] = 0.0
        usum[b] = u[int(starts[b]) : int(starts[b + 1])].sum()
    return picks
