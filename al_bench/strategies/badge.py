"""``badge``: BADGE (Ash et al. 2020), k-means++ seeding on hallucinated gradient embeddings.

For the linear head the last-layer gradient of the loss with the predicted label ŷ as target
is g = (p − onehot(ŷ)) ⊗ x (x with a trailing 1 for the bias; the heads give the two factors,
see :func:`al_bench.heads.gradient_factors`). Its norm grows with uncertainty and its direction
carries the features, so D² sampling on g picks points that are both uncertain and diverse.
The selection never builds the (N, C·d) matrix: distances factorize (see
:func:`al_bench.kernels.kmeanspp.kmeans_pp_factored`).
"""

from __future__ import annotations

import numpy as np

from ..heads import residual
from ..kernels.kmeanspp import kmeans_pp_factored
from . import PoolView, register

__all__ = ["badge", "gradient_embedding"]


def gradient_embedding(features: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Explicit gradient embeddings (p − onehot(ŷ)) ⊗ x, the cross-entropy gradient of a linear
    layer with the predicted label as target. (N, d), (N, C) → (N, C·d).

    For reference and tests; the strategy itself works on the factors.
    """
    x = np.asarray(features, np.float64)
    p = np.asarray(probs, np.float64)
    if x.ndim != 2 or p.ndim != 2 or len(x) != len(p):
        raise ValueError(f"features (N, d) and probs (N, C) must share N; got {x.shape} and {p.shape}")
    a = residual(p)
    return (a[:, :, None] * x[:, None, :]).reshape(len(x), -1)


def _norms(view: PoolView, picks: np.ndarray) -> np.ndarray:
    """Gradient-embedding norm of each pick: |p − onehot(ŷ)| · |[x, 1]|."""
    a, xb = view.model.gradient_factors(picks)
    return np.linalg.norm(a, axis=1) * np.linalg.norm(xb, axis=1)


@register("badge", needs={"grad"}, score="gradient-embedding norm |p - onehot(y)| * |[x, 1]|", pick_scores=_norms)
def badge(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unlabeled positions by k-means++ (D²) seeding on gradient embeddings."""
    a, x = view.gradient_factors()
    return view.unlabeled[kmeans_pp_factored(a, x, n, rng, first="max_norm")]
