"""``random``: uniform sampling, the baseline every curve is compared with."""

from __future__ import annotations

import numpy as np

from . import PoolView, register


@register("random", needs=set(), score="none (uniform)", uniform=True)  # uniform: known draw probabilities
def random(view: PoolView, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unlabeled positions drawn uniformly without replacement."""
    return rng.choice(view.unlabeled, size=n, replace=False)
