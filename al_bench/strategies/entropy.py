"""``entropy``: uncertainty sampling, top-k by highest predictive entropy."""

from __future__ import annotations

import numpy as np

from .. import scores
from . import PoolView, register
from ._uncertainty import all_scores, pick_most_uncertain, scores_of


@register("entropy", needs={"probs"}, score="predictive entropy (nats)", pick_scores=scores_of(scores.entropy),
          pool_scores=all_scores(scores.entropy))
def entropy(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """The ``n`` unlabeled positions with the highest predictive entropy, under calibrated probabilities."""
    return pick_most_uncertain(view, n, rng, scores.entropy)
