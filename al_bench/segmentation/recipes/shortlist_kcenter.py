"""``shortlist_kcenter`` (formerly ``hybrid``): the ``shortlist_factor`` · n most uncertain
candidates, then greedy k-center among them on the feature-model embeddings, seeded by the
labeled images — uncertain, but not redundant.

The classification strategy ``hybrid`` applies the same two steps to a classifier's predictive
entropy; this recipe applies them to the segmentation model's per-image uncertainty, hence its
own name.
"""

from __future__ import annotations

import math

import numpy as np

from ...kernels.kcenter import kcenter_greedy
from ...kernels.topk import top_k
from . import UNCERTAINTY, CandidateView, register


@register("shortlist_kcenter", needs={"scores", "features"}, score=UNCERTAINTY, order=2,
          param_ranges={"shortlist_factor": (1.0, math.inf)})
def shortlist_kcenter(view: CandidateView, n: int, rng: np.random.Generator,
                      shortlist_factor: float = 2.0) -> np.ndarray:
    """``n`` candidates: k-center within the uncertainty shortlist. → (n,)"""
    m = min(len(view), max(n, int(np.ceil(float(shortlist_factor) * n))))
    short = top_k(view.scores, m, rng)
    lab = view.labeled_features
    L = 0 if lab is None else len(lab)
    rows = view.features[short] if lab is None else np.concatenate([lab, view.features[short]])
    return short[kcenter_greedy(rows, np.arange(L), n, rng) - L]  # [labeled; shortlist], seeded by the labeled
