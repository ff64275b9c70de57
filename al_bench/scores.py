"""Informativeness scores: pure formulas on class probabilities, higher = more informative.

Every function validates its input and raises ``ValueError`` naming the problem, so a NaN
from a diverged model can never be silently ranked first or last.
"""

from __future__ import annotations

import numpy as np

__all__ = ["entropy", "margin", "least_confidence", "bald", "check_probs", "check_choice", "check_fraction"]

# how far from 1 a row of probabilities may sum: float32 softmax rows sum to 1 within ~1e-6; this
# only catches real mistakes (public: the segmentation scorers find the pixel a check refused with it)
SUM_ATOL = 1e-3


def check_probs(probs: np.ndarray, name: str = "probs", ndim: int = 2) -> np.ndarray:
    """Validate class probabilities (..., C) and return them as a float64 array."""
    p = np.asarray(probs)
    if p.ndim != ndim:
        want = "(N, C)" if ndim == 2 else "(K, N, C)"
        raise ValueError(f"{name} must have shape {want}, got shape {p.shape}")
    if p.shape[-1] < 2:
        raise ValueError(f"{name} needs at least 2 classes in the last axis, got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.number) or np.issubdtype(p.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {p.dtype}")
    p = p.astype(np.float64, copy=False)
    bad = ~np.isfinite(p)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (first at index {where})")
    if (p < 0).any():
        where = np.argwhere(p < 0)[0].tolist()
        raise ValueError(f"{name} contains negative values (first at index {where}: {p[tuple(where)]:.3g})")
    sums = p.sum(axis=-1)
    off = np.abs(sums - 1.0) > SUM_ATOL
    if off.any():
        where = np.argwhere(off)[0].tolist()
        raise ValueError(
            f"{name} rows must sum to 1; {int(off.sum())} do not "
            f"(first at row {where}, which sums to {sums[tuple(where)]:.6g})"
        )
    return p


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats over the last axis, with 0·log 0 = 0."""
    logp = np.log(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=-1)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy in nats. (N, C) → (N,)."""
    return _entropy_rows(check_probs(probs))


def margin(probs: np.ndarray) -> np.ndarray:
    """1 − (p₁ − p₂), the gap between the two most likely classes, flipped. (N, C) → (N,)."""
    p = check_probs(probs)
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 − max_c p_c. (N, C) → (N,)."""
    return 1.0 - check_probs(probs).max(axis=1)


def bald(mc_probs: np.ndarray) -> np.ndarray:
    """BALD mutual information in nats from K stochastic passes. (K, N, C) → (N,) float64.

    I(y; θ | x) = H[mean_k p_k] − mean_k H[p_k]; clipped at 0 against rounding.

    Works in the input's precision (float32 samples stay float32) on cache-sized blocks of
    points, on two threads. The K·N·C logarithms dominate, so a block is touched by as few
    full passes as possible: log, multiply, and two sums over K (of p·log p and of p); the
    sums over the C classes then run on the K-times smaller results. Validation rides on
    these: a NaN, infinite or negative entry turns its point's sum non-finite (the block is
    then redone with explicit checks, which also handle exact zeros, 0·log 0 = 0), and each
    point's K rows must sum to K within K · 1e-3 (checked per point, summed over the passes;
    any failure is then named row by row by :func:`check_probs`).
    """
    p = np.asarray(mc_probs)
    if p.ndim != 3 or p.shape[-1] < 2 or p.dtype not in (np.float32, np.float64):
        p = check_probs(p, name="mc_probs", ndim=3)  # raises with the exact problem, or converts
    K, N, C = p.shape
    ones = np.ones(C, p.dtype)
    tiny = p.dtype.type(1e-30)  # careful path: 0·log(0 + tiny) = 0
    out = np.empty(N, np.float64)
    row_sums = np.empty(N, np.float64)
    bad = np.zeros(1, bool)
    step = max(1, (1 << 18) // (K * C))  # ~1 MB of float32 per block: stays in cache across the passes

    def work(lo: int, hi: int) -> None:
        buf = np.empty(K * step * C, p.dtype)
        acc = np.empty(step * C, p.dtype)
        psum = np.empty(step * C, p.dtype)
        for s in range(lo, hi, step):
            e = min(s + step, hi)
            m = e - s
            blk = p[:, s:e, :]
            b = buf[: K * m * C].reshape(K, m, C)
            a = acc[: m * C].reshape(m, C)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                np.log(blk, out=b)
                b *= blk
                np.sum(b, axis=0, out=a)  # Σ_k p log p, (m, C)
                if not np.isfinite(a).all():  # zeros (0·−inf), or bad entries: redo with checks
                    if not (np.isfinite(blk).all() and blk.min() >= 0):
                        bad[0] = True
                        return
                    np.add(blk, tiny, out=b)
                    np.log(b, out=b)
                    b *= blk
                    np.sum(b, axis=0, out=a)
            q = psum[: m * C].reshape(m, C)
            np.sum(blk, axis=0, out=q)  # Σ_k p, (m, C)
            row_sums[s:e] = q @ ones
            q *= p.dtype.type(1.0 / K)  # mean_k p_k
            mean_h = -(a @ ones) / K  # mean_k H[p_k], (m,)
            h_mean = -((q * np.log(q + tiny)) @ ones)  # H[mean_k p_k], (m,)
            out[s:e] = h_mean - mean_h

    half = (N // 2 // step + 1) * step
    if N > 4 * step:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as ex:  # numpy releases the GIL in these loops
            list(ex.map(lambda r: work(*r), [(0, min(half, N)), (min(half, N), N)]))
    else:
        work(0, N)
    if bad[0] or not (np.abs(row_sums - K) <= K * SUM_ATOL).all():
        check_probs(p, name="mc_probs", ndim=3)  # find and name the problem
        raise ValueError(f"mc_probs rows must sum to 1; the {K} rows of some points do not on average")
    return np.maximum(out, 0.0)


def check_choice(value: str, allowed, what: str) -> str:
    """``value`` if it is one of ``allowed``, else ValueError naming ``what`` and the choices."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def check_fraction(value: float, name: str, open_at_0: bool = False) -> float:
    """A real number in [0, 1] ((0, 1] with ``open_at_0``) as float, or ValueError naming ``name``."""
    span = "(0, 1]" if open_at_0 else "[0, 1]"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in {span}, got {value!r}")
    if not (0.0 < value <= 1.0 if open_at_0 else 0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in {span}, got {value!r}")
    return float(value)

