"""``margin``: 1 − (p₁ − p₂) of each pixel, p₁ and p₂ its two largest class probabilities."""

from __future__ import annotations

import numpy as np

from ... import scores
from . import register


@register("margin", needs={"probs"}, score="pixel margin 1 − (p₁ − p₂)", order=1)
def margin(rows: np.ndarray) -> np.ndarray:
    """The pixels' margin. (P, C) → (P,)"""
    return scores.margin(rows)
