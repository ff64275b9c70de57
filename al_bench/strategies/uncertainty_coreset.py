"""``uncertainty_coreset``: uncertainty and diversity in one greedy pass.

Ranked batch-mode sampling after Cardoso et al., "Ranked batch-mode active learning",
Information Sciences 379 (2017): every pick maximizes (1 − weight) · d / max d + weight · u,
d being the distance (embedding space) to the nearest labeled item or earlier pick and u the
entropy min-max normalized over the unlabeled pool, re-scored after each pick
(:func:`al_bench.kernels.ranked_batch.ranked_batch`). ``weight`` 0 is k-center, 1 is
entropy top-k; unlike ``hybrid`` (an entropy shortlist, then k-center) neither criterion is
applied first. In the first ``cold_rounds`` rounds, and without a model, it is k-center.
"""

from __future__ import annotations

import numpy as np

from .. import scores
from ..kernels.kcenter import kcenter_greedy
from ..kernels.ranked_batch import ranked_batch
from . import PoolView, register
from ._uncertainty import scores_of


@register("uncertainty_coreset", needs={"probs", "features"}, score="predictive entropy (nats)",
          pick_scores=scores_of(scores.entropy), cold_start=True,
          param_ranges={"weight": (0.0, 1.0), "cold_rounds": (0, 1_000_000)})
def uncertainty_coreset(view: PoolView, n: int, rng: np.random.Generator, weight: float = 0.5,
                        cold_rounds: int = 1) -> np.ndarray:
    """``n`` unlabeled positions by one greedy pass over distance and entropy (k-center when cold)."""
    if view.model is None or view.in_cold_start(cold_rounds):
        return kcenter_greedy(view.embeddings, view.labeled, n, rng, init=view.labeled_distances)
    x = view.embeddings
    lab = x[view.labeled] if view.labeled.size else None
    picked = ranked_batch(x[view.unlabeled], scores.entropy(view.probs()), n, weight=float(weight),
                          labeled_features=lab)
    return view.unlabeled[picked]
