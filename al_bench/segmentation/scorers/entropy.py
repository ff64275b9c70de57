"""``entropy``: the entropy of each pixel's class probabilities (of their mean over MC samples)."""

from __future__ import annotations

import numpy as np

from ... import scores
from . import register


@register("entropy", needs={"probs"}, score="pixel entropy (nats)", order=0)
def entropy(rows: np.ndarray) -> np.ndarray:
    """The pixels' entropy. (P, C) → (P,)"""
    return scores.entropy(rows)
