"""``kcenter``: the classification strategy ``kcenter`` itself — greedy k-center on the images'
feature-model embeddings, seeded by the labeled images. Reads no model output."""

from __future__ import annotations

import numpy as np

from . import UNCERTAINTY, CandidateView, register, strategy_picks


@register("kcenter", needs={"features"}, score=UNCERTAINTY, order=1, strategy="kcenter")
def kcenter(view: CandidateView, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` candidates in greedy k-center order (the strategy's picks). → (n,)"""
    return strategy_picks("kcenter", view, n, rng)
