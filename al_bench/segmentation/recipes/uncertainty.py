"""``uncertainty``: the n most uncertain candidate images (the provider's score, reduced per image)."""

from __future__ import annotations

import numpy as np

from ...kernels.topk import top_k
from . import UNCERTAINTY, CandidateView, register


@register("uncertainty", needs={"scores"}, score=UNCERTAINTY, order=0)
def uncertainty(view: CandidateView, n: int, rng: np.random.Generator) -> np.ndarray:
    """The ``n`` candidates with the highest uncertainty, exact ties broken by ``rng``. → (n,)"""
    return top_k(view.scores, n, rng)
