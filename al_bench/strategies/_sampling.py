"""Stochastic batch acquisition (Kirsch et al., "Stochastic Batch Acquisition: A Simple Baseline
for Deep Active Learning", TMLR 2023): instead of the top-n scores, draw n candidates without
replacement with probability proportional to a weight of their score.

- ``power``:    w_i = s_i^β        (scores must be ≥ 0; a score of 0 has weight 0)
- ``softmax``:  w_i = exp(β · s_i)
- ``softrank``: w_i = r_i^(−β)     (r_i = rank of s_i, 1 = highest; tied scores share their
  average rank, so they have equal weight)

β = 0 is uniform sampling; β → ∞ approaches top-n. The draw is Gumbel-top-k: add an independent
standard Gumbel variable to each log-weight and keep the n largest, which is exactly n
successive draws without replacement, each with probability w_i / (sum of the weights left)
(the Plackett–Luce distribution). Pure; randomness is an argument.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLINGS", "log_weights", "gumbel_top_k", "sequential_probabilities"]

SAMPLINGS = ("topk", "power", "softmax", "softrank")


def _scores(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores contain {int((~np.isfinite(s)).sum())} NaN or infinite values")
    return s


def _scaled(beta: float, x: np.ndarray) -> np.ndarray:
    """β · x as log-weights. A β so large that β · x overflows (``strategy.beta=1e308``) is the
    top-k limit, not an error: the draw does not change when every log-weight is shifted by one
    constant, so the product is then taken of x − max(x), where it can only underflow to −inf
    (weight 0) and the largest scores keep log-weight 0. Below overflow the plain product is
    kept, so that runs that never overflowed draw exactly as before."""
    with np.errstate(over="ignore", invalid="ignore"):
        y = beta * x
        finite = np.isfinite(x)
        if not np.isfinite(y[finite]).all():
            y = beta * (x - x[finite].max())
    return y


def log_weights(scores: np.ndarray, sampling: str, beta: float) -> np.ndarray:
    """log w_i of each score for ``sampling`` (``power``, ``softmax`` or ``softrank``). (N,) → (N,)

    ``power`` needs scores ≥ 0 (a negative one is a ``ValueError``); with β > 0 a score of
    exactly 0 gets log-weight −inf: never drawn while a positive-score item is left (when the
    batch needs more items than have positive scores, the rest are drawn uniformly among the
    zeros). β = 0 gives every item log-weight 0 (uniform) for every sampling.
    """
    s = _scores(scores)
    beta = float(beta)
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    if sampling == "power":
        if (s < 0).any():
            raise ValueError(f"power sampling needs scores >= 0; got {int((s < 0).sum())} negative "
                             f"(smallest {s.min():g})")
        if beta == 0:  # uniform, zeros included (0^0 = 1)
            return np.zeros(s.size)
        with np.errstate(divide="ignore"):
            return _scaled(beta, np.where(s > 0, np.log(np.where(s > 0, s, 1.0)), -np.inf))
    if sampling == "softmax":
        return _scaled(beta, s)
    if sampling == "softrank":
        order = np.argsort(-s, kind="stable")
        ordinal = np.empty(s.size, np.float64)
        ordinal[order] = np.arange(1, s.size + 1)
        # tied scores share the mean of the ordinal ranks they span
        _, inverse = np.unique(s, return_inverse=True)
        avg = np.bincount(inverse, weights=ordinal) / np.bincount(inverse)
        return -beta * np.log(avg[inverse])
    raise ValueError(f"unknown sampling {sampling!r}; choose one of {list(SAMPLINGS[1:])}")


def gumbel_top_k(log_w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` distinct items drawn without replacement with probability ∝ exp(log_w),
    in draw order. (N,) → (n,)

    One standard Gumbel per item from ``rng`` (N draws, whatever ``n``). Items with log-weight
    −inf come after every other item, in uniformly random order among themselves.
    """
    lw = np.asarray(log_w, dtype=np.float64)
    if lw.ndim != 1:
        raise ValueError(f"log-weights must be 1-D, got shape {lw.shape}")
    if np.isnan(lw).any() or np.isposinf(lw).any():
        raise ValueError("log-weights must be finite or -inf")
    n = int(n)
    if not 0 <= n <= lw.size:
        raise ValueError(f"cannot draw n={n} items from {lw.size}")
    g = rng.gumbel(size=lw.size)
    keys = lw + g  # -inf stays -inf: those items are ordered by their Gumbel alone, after the rest
    # lexsort: last key first; descending keys, then descending Gumbel among equal (-inf) keys
    order = np.lexsort((-g, -keys))
    return order[:n].astype(np.int64)


def sequential_probabilities(log_weights: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """The probability of each of ``picked`` (indices into ``log_weights``, in draw order) when
    drawn one at a time without replacement in proportion to ``exp(log_weights)``."""
    lw = np.asarray(log_weights, np.float64)
    w = np.exp(lw - lw[np.isfinite(lw)].max()) if np.isfinite(lw).any() else np.zeros_like(lw)
    picked = np.asarray(picked, np.int64)
    rest = np.ones(len(w), bool)
    rest[picked] = False
    wp = w[picked]
    # the weight left before draw k, as sums of non-negative terms only (never a running
    # difference, whose rounding made a last draw of everything left 1 + 4e-16): never below
    # the drawn item's own weight, so every probability is in [0, 1], and exactly 1 for a draw
    # of the last item
    left = float(w[rest].sum()) + np.cumsum(wp[::-1])[::-1]
    return np.divide(wp, left, out=np.zeros_like(wp), where=left > 0)
