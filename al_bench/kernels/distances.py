"""Euclidean distances, memory-bounded: nearest centers, exact float64 re-scores, pick distances.

Nothing here builds an N × N matrix: rows go through BLAS in blocks, so temporaries stay
O(block · d) and O(block · centers) whatever N is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nearest_center", "pick_distances", "unit_rows", "sq_norms", "rows32"]

_CHUNK = 1 << 13  # rows per distance pass: bounds temporaries to O(chunk · d) whatever N is


def _check_features(features: np.ndarray, name: str = "features", stored: bool = False) -> np.ndarray:
    """``features`` as a C-contiguous float32 (N, d) array; NaN or inf raises, naming the first row.

    ``stored``: a C-contiguous float16 or float32 array (a memory map of a file included) is
    returned as it is, never copied whole; the caller reads it in float32 blocks
    (:func:`rows32`). Float16 values are exactly float32 values, so the results equal those on
    the float32 copy."""
    x = np.asarray(features) if not isinstance(features, np.memmap) else features
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, d), got shape {x.shape}")
    if not (stored and x.dtype in (np.float16, np.float32) and x.flags.c_contiguous):
        x = np.ascontiguousarray(x, dtype=np.float32)
    for s in range(0, len(x), _CHUNK):  # chunked: no N × d boolean temporary
        bad = ~np.isfinite(x[s : s + _CHUNK])
        if bad.any():
            row = s + int(np.argwhere(bad)[0][0])
            raise ValueError(f"{name} contain NaN or infinite values (first in row {row})")
    return x


def rows32(x: np.ndarray, rows=slice(None)) -> np.ndarray:
    """Rows of ``x`` as float32 (a view when ``x`` is float32 and ``rows`` a slice)."""
    return np.asarray(x[rows], np.float32)


def sq_norms(x: np.ndarray) -> np.ndarray:
    """‖x_i‖² float32 (N,), in row blocks (a float16 array is summed in float32, never copied whole)."""
    if x.dtype == np.float32:
        return np.einsum("ij,ij->i", x, x)
    out = np.empty(len(x), np.float32)
    for s in range(0, len(x), _CHUNK):
        b = rows32(x, slice(s, s + _CHUNK))
        out[s : s + _CHUNK] = np.einsum("ij,ij->i", b, b)
    return out


def nearest_center(x: np.ndarray, centers: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center of every row (or of ``rows`` only, others get +inf / −1).

    Returns (min_j ‖x_i − c_j‖² float32 (N,), argmin j int32 (N,); exact ties to the lowest j).
    The argmin comes from ‖c‖² − 2 x·c, one BLAS GEMM per block of rows; the distance returned is
    then ‖x − c_j‖² in difference form (exactly 0 for a row equal to its center). Blocks of rows
    are sized so the (rows × centers) slab stays ≤ 32 MB whatever the number of centers and the
    (rows × d) temporaries ≤ 4 MB each. (It replaced a faiss-cpu IndexFlatL2 search; timings of
    both are in bench/README.md.)
    """
    x = x if x.dtype in (np.float16, np.float32) else np.asarray(x, np.float32)  # float16: converted by block
    c = np.ascontiguousarray(centers, np.float32)
    dist = np.full(len(x), np.inf, np.float32)
    arg = np.full(len(x), -1, np.int32)
    if len(c) == 0:
        return dist, arg
    c_sq = np.einsum("ij,ij->i", c, c)
    rows = None if rows is None else np.asarray(rows, np.int64)
    step = int(max(64, min(_CHUNK, (1 << 23) // len(c), (1 << 20) // x.shape[1])))
    for s in range(0, len(x) if rows is None else rows.size, step):
        if rows is None:  # all rows: plain slices, no index array
            r = slice(s, s + step)
            block = x[r]
        else:
            r = rows[s : s + step]
            block = x[r[0] : r[-1] + 1] if r[-1] - r[0] + 1 == r.size else x[r]
        block = np.asarray(block, np.float32)
        d = block @ c.T
        d *= -2.0
        d += c_sq[None, :]
        j = d.argmin(axis=1)
        diff = block - c[j]  # the distance to the chosen center in difference form: its rounding
        dist[r] = np.einsum("ij,ij->i", diff, diff)  # is relative to the distance, not to the norms
        arg[r] = j
    return dist, arg


def _exact_min_sq_dist(xr: np.ndarray, centers: np.ndarray, c_sq: np.ndarray, eps: float) -> np.ndarray:
    """Float64 min_j ‖x_i − c_j‖² for a few float32 rows ``xr`` (m, d) against ``centers`` (M, d).

    A float32 pass (half the bytes and twice the SIMD width of float64) finds, per row, the
    centers within twice the float32 error bound ``eps`` · (‖x‖² + max ‖c‖²) of its float32
    minimum; the true nearest center is always among them, and only those are scored in
    float64, whose rounding (~1e-16 of the norms) is far below float32's and keeps integer-
    valued data exact, so exact ties stay ties.
    """
    xr = np.asarray(xr, np.float32)
    if len(centers) <= 32:  # a few centers (a re-check of the newest ones): float64 directly
        diff = xr.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None, :, :]
        return np.einsum("ijk,ijk->ij", diff, diff).min(axis=1, initial=np.inf)
    m = len(xr)
    x_sq32 = np.einsum("ij,ij->i", xr, xr)
    tol = (2.0 * eps) * (x_sq32.astype(np.float64) + float(c_sq.max(initial=0.0)))
    run = np.full(m, np.inf)
    xt = np.ascontiguousarray(xr.T)
    rows, cols = [], []
    for s in range(0, len(centers), 8192):
        d = centers[s : s + 8192] @ xt  # (chunk, m): this orientation streams the centers once
        d *= -2.0
        d += x_sq32[None, :]
        d += c_sq[s : s + 8192, None]
        run = np.minimum(run, d.min(axis=0))
        c, r = np.nonzero(d <= (run + tol)[None, :])
        rows.append(r)
        cols.append(c + s)
    r, c = np.concatenate(rows), np.concatenate(cols)
    x64 = xr.astype(np.float64)
    c64 = centers[c].astype(np.float64)
    diff = x64[r] - c64
    exact = np.einsum("ij,ij->i", diff, diff)  # the difference form: no cancellation at all
    best = np.full(m, np.inf)
    np.minimum.at(best, r, exact)
    return best

def farthest_from_mean(x: np.ndarray) -> int:
    """The row farthest from the rows' mean (squared distance in float32, in row chunks: no
    N × d temporary) — k-center's first pick when nothing is labeled and no rng is given."""
    if x.dtype == np.float32:
        mu = x.mean(0)
    else:  # float16: the mean in float64 blocks, never a float32 copy of the whole array
        mu = np.zeros(x.shape[1], np.float64)
        for s in range(0, len(x), _CHUNK):
            mu += rows32(x, slice(s, s + _CHUNK)).sum(0, dtype=np.float64)
        mu = (mu / max(len(x), 1)).astype(np.float32)
    far = np.empty(len(x), np.float32)
    for s in range(0, len(x), _CHUNK):
        diff = rows32(x, slice(s, s + _CHUNK)) - mu
        far[s : s + _CHUNK] = np.einsum("ij,ij->i", diff, diff)
    return int(np.argmax(far))


def pick_distances(x: np.ndarray, picks: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pick to the nearest labeled item or earlier pick. (n,)"""
    if labeled.size:
        d, _ = nearest_center(x[picks], x[labeled])
    else:
        d = np.full(picks.size, np.inf, np.float32)
    d = d.astype(np.float64)
    xp = np.asarray(x[picks], np.float32).astype(np.float64)
    sq = np.einsum("ij,ij->i", xp, xp)
    for s in range(0, picks.size, 1024):  # earlier picks: a (block × n) slab at a time
        blk = sq[s : s + 1024, None] + sq[None, :] - 2.0 * (xp[s : s + 1024] @ xp.T)
        rows = np.arange(s, min(s + 1024, picks.size))
        blk[rows[:, None] <= np.arange(picks.size)[None, :]] = np.inf  # only earlier picks count
        d[rows] = np.minimum(d[rows], blk.min(axis=1))
    return np.sqrt(np.maximum(d, 0.0))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (L2-normalized), float32 C-contiguous (a copy); an all-zero row
    stays zero (it then counts as √2 away from every point). (N, d) → (N, d)"""
    x = np.array(x, np.float32, order="C")
    x /= np.maximum(np.sqrt(np.einsum("ij,ij->i", x, x)), np.float32(1e-12))[:, None]
    return x
