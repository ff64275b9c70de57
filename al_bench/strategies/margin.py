"""``margin``: uncertainty sampling, top-k by smallest gap between the two most likely classes (score 1 − (p₁ − p₂))."""

from __future__ import annotations

import numpy as np

from .. import scores
from . import PoolView, register
from ._uncertainty import all_scores, pick_most_uncertain, scores_of


@register("margin", needs={"probs"}, score="1 - (p1 - p2)", pick_scores=scores_of(scores.margin),
          pool_scores=all_scores(scores.margin))
def margin(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """The ``n`` unlabeled positions with the smallest gap between the two most likely classes
    (score 1 − (p₁ − p₂)), under calibrated probabilities."""
    return pick_most_uncertain(view, n, rng, scores.margin)
