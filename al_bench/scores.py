"""Informativeness scores: pure formulas on class probabilities, higher = more informative.

Every function validates its input and raises ``ValueError`` naming the problem, so a NaN
from a diverged model can never be silently ranked first or last.
"""

from __future__ import annotations

import numpy as np

__all__ = ["entropy", "margin", "least_confidence", "bald", "check_probs"]

_SUM_ATOL = 1e-3  # float32 softmax rows sum to 1 within ~1e-6; this only catches real mistakes


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
    off = np.abs(sums - 1.0) > _SUM_ATOL
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
    """BALD mutual information in nats from K stochastic passes. (K, N, C) → (N,).

    I(y; θ | x) = H[mean_k p_k] − mean_k H[p_k]; clipped at 0 against rounding.
    """
    p = check_probs(mc_probs, name="mc_probs", ndim=3)
    mi = _entropy_rows(p.mean(axis=0)) - _entropy_rows(p).mean(axis=0)
    return np.maximum(mi, 0.0)
