"""``alges_coreset``: ALGES shortlists ``candidate_factor`` · n candidates, then greedy k-center
on their feature-model embeddings, seeded by the labeled images, picks n of them."""

from __future__ import annotations

import math

import numpy as np

from ...kernels.checks import check_count, check_features, check_labeled_features
from ...kernels.kcenter import kcenter_greedy
from . import UNCERTAINTY, CandidateView, register
from .alges import select_alges


def select_alges_coreset(embeddings: np.ndarray, features: np.ndarray, n: int, rng: np.random.Generator,
                         candidate_factor: float = 4, labeled_features: np.ndarray | None = None) -> np.ndarray:
    """ALGES shortlist, then k-center on features. (N, E), (N, d) → (n,) candidate indices in pick order.

    :func:`select_alges` picks min(N, max(n, ⌈candidate_factor · n⌉)) candidates; greedy k-center
    (:func:`al_bench.kernels.kcenter.kcenter_greedy`) on their ``features`` (the images'
    feature-model embeddings), seeded by ``labeled_features`` (L, d), picks n of them. With no
    labeled rows its first pick is uniform among the shortlist from ``rng``, as in the
    ``kcenter`` and ``hybrid`` strategies.
    """
    emb = np.asarray(embeddings)
    f = np.asarray(features)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be (N, E), got shape {emb.shape}")
    if f.ndim != 2 or len(f) != len(emb):
        raise ValueError(f"features must be (N, d) with one row per embedding (N = {len(emb)}), got shape {f.shape}")
    N = len(emb)
    n = check_count(n, N)
    if not candidate_factor >= 1:
        raise ValueError(f"candidate_factor must be >= 1, got {candidate_factor!r}")
    lab = check_labeled_features(labeled_features, f.shape[1])
    m = min(N, max(n, math.ceil(candidate_factor * n)))
    cand = select_alges(emb, m, rng)
    fc = check_features(f[cand])
    if lab is None:
        return cand[kcenter_greedy(fc, None, n, rng)]
    L = len(lab)
    rows = np.concatenate([lab, fc])  # [labeled; shortlist], seeded by the labeled rows
    return cand[kcenter_greedy(rows, np.arange(L), n, rng) - L]


@register("alges_coreset", needs={"alges", "features"}, score=UNCERTAINTY, order=4,
          param_ranges={"candidate_factor": (1.0, math.inf)}, param_choices={"variant": ("image", "semantic")})
def alges_coreset(view: CandidateView, n: int, rng: np.random.Generator, variant: str = "image",
                  candidate_factor: float = 4.0) -> np.ndarray:
    """``n`` candidates by :func:`select_alges_coreset` on the ALGES embeddings of ``variant``. → (n,)"""
    return select_alges_coreset(view.alges, view.features, n, rng, candidate_factor=float(candidate_factor),
                                labeled_features=view.labeled_features)
