"""``kcenter``: greedy k-center coreset (Sener & Savarese 2018) in embedding space.

Farthest-point picks seeded by the labeled set: each pick is the unlabeled point farthest from
its nearest labeled-or-picked point. Needs only embeddings, no model.
"""

from __future__ import annotations

import numpy as np

from ..selectors import kcenter_greedy
from . import PoolView, register


@register("kcenter")
def kcenter(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unlabeled positions in greedy k-center order, seeded by ``view.labeled``."""
    return kcenter_greedy(view.embeddings, view.labeled, n, rng, init=view.labeled_distances)
