"""``ranked_batch`` (formerly ``uncertainty_coreset``): one greedy pass scoring
(1 − weight) · distance + weight · uncertainty (Cardoso et al. 2017), the kernel
:func:`al_bench.kernels.ranked_batch.ranked_batch`; ``weight`` 0 is k-center, 1 uncertainty top-k.

The classification strategy ``uncertainty_coreset`` runs the same kernel on a classifier's
predictive entropy; this recipe runs it on the segmentation model's per-image uncertainty,
hence its own name.
"""

from __future__ import annotations

import numpy as np

from ...kernels.ranked_batch import ranked_batch as ranked_batch_kernel
from . import UNCERTAINTY, CandidateView, register


@register("ranked_batch", needs={"scores", "features"}, score=UNCERTAINTY, order=5,
          param_ranges={"weight": (0.0, 1.0)}, param_notes={"weight": "0 = k-center, 1 = uncertainty"})
def ranked_batch(view: CandidateView, n: int, rng: np.random.Generator, weight: float = 0.5) -> np.ndarray:
    """``n`` candidates by one greedy pass over distance and uncertainty (no randomness). → (n,)"""
    return ranked_batch_kernel(view.features, view.scores, n, weight=float(weight),
                               labeled_features=view.labeled_features)
