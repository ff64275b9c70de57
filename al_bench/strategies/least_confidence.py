"""``least_confidence``: uncertainty sampling, top-k by lowest top-class probability (score 1 − max p)."""

from __future__ import annotations

import numpy as np

from .. import scores
from . import PoolView, register
from ._uncertainty import all_scores, pick_most_uncertain, scores_of


@register("least_confidence", needs={"probs"}, score="1 - max p", pick_scores=scores_of(scores.least_confidence),
          pool_scores=all_scores(scores.least_confidence))
def least_confidence(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """The ``n`` unlabeled positions with the lowest top-class probability (score 1 − max p), under calibrated probabilities."""
    return pick_most_uncertain(view, n, rng, scores.least_confidence)
