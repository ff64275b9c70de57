"""``least_confidence``: 1 − the largest class probability of each pixel."""

from __future__ import annotations

import numpy as np

from ... import scores
from . import register


@register("least_confidence", needs={"probs"}, score="pixel least confidence 1 − max p", order=2)
def least_confidence(rows: np.ndarray) -> np.ndarray:
    """The pixels' least confidence. (P, C) → (P,)"""
    return scores.least_confidence(rows)
