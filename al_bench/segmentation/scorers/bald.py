"""``bald``: per-pixel mutual information between the prediction and the model (BALD), from MC samples."""

from __future__ import annotations

import numpy as np

from ... import scores
from . import register


@register("bald", needs={"samples"}, score="pixel mutual information over MC samples (nats)", order=3)
def bald(rows: np.ndarray) -> np.ndarray:
    """The pixels' BALD mutual information over K MC samples. (K, P, C) → (P,)"""
    return scores.bald(rows)
