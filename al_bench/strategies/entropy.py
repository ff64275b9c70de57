"""``entropy``: uncertainty sampling, top-k by highest predictive entropy."""

from __future__ import annotations

import numpy as np

from .. import scores
from . import PoolView, register
from ._uncertainty import pick_most_uncertain


@register("entropy")
def entropy(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """The ``n`` unlabeled positions with the highest predictive entropy, under calibrated probabilities."""
    return pick_most_uncertain(view, n, rng, scores.entropy)
