"""``kcenter``: greedy k-center coreset (Sener & Savarese 2018) in embedding space.

Farthest-point picks seeded by the labeled set: each pick is the unlabeled point farthest from
its nearest labeled-or-picked point. Needs only embeddings, no model.
"""

from __future__ import annotations

import numpy as np

from ..kernels.distances import pick_distances
from ..kernels.kcenter import kcenter_greedy
from . import PoolView, register


@register("kcenter", needs={"features"}, stored_features=True,  # float16 / memory-mapped rows read by block
          score="distance to the nearest labeled or earlier pick (embedding units)",
          pick_scores=lambda view, picks: pick_distances(view.embeddings, picks, view.labeled))
def kcenter(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unlabeled positions in greedy k-center order, seeded by ``view.labeled``."""
    return kcenter_greedy(view.embeddings, view.labeled, n, rng, init=view.labeled_distances)
