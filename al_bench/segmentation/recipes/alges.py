"""``alges``: k-means++ (D²) seeding on ALGES gradient embeddings
(:mod:`al_bench.segmentation.alges`), first the largest embedding, as BADGE does."""

from __future__ import annotations

import numpy as np

from ...kernels.checks import check_count
from ...kernels.kmeanspp import kmeans_pp
from . import UNCERTAINTY, CandidateView, register


def select_alges(embeddings: np.ndarray, n: int, rng: np.random.Generator, first: str = "max_norm") -> np.ndarray:
    """``n`` distinct candidate indices by k-means++ (D²) seeding on ALGES embeddings. (N, E) → (n,).

    ``first``: ``"max_norm"`` (the largest embedding, as BADGE) or ``"random"``. Indices in pick
    order; when every remaining distance is 0 the rest are drawn uniformly.
    """
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, E), one ALGES embedding per candidate image, got shape {x.shape}")
    n = check_count(n, len(x))
    if first not in ("max_norm", "random"):
        raise ValueError(f"first must be 'max_norm' or 'random', got {first!r}")
    return kmeans_pp(x, n, rng, first=first)


@register("alges", needs={"alges"}, score=UNCERTAINTY, order=3,
          param_choices={"first": ("max_norm", "random"), "variant": ("image", "semantic")})
def alges(view: CandidateView, n: int, rng: np.random.Generator, variant: str = "image",
          first: str = "max_norm") -> np.ndarray:
    """``n`` candidates by :func:`select_alges` on the ALGES embeddings of ``variant`` (``image``
    or ``semantic``: which the provider computes). → (n,)"""
    return select_alges(view.alges, n, rng, first=str(first))
