"""``bald``: MC-dropout BALD (Houlsby et al. 2011; Gal et al. 2017), top-k by mutual information.

The head is sampled ``k`` times with dropout on. By default each pass draws one dropout mask
shared by every point ("consistent" MC dropout: pass k is one posterior sample of the head,
so all points are scored under the same K models and a pass is one matrix product). The
per-point alternative — a fresh mask for every point in every pass — treats each point's K
samples as independent; it costs K·N masks and makes scores of different points incomparable
draws, which is why it is not used here.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..kernels.topk import top_k
from . import PoolView, register


@register("bald", needs={"mc"}, score="BALD mutual information (nats)", param_ranges={"k": (2, 1000)},
          pool_scores=lambda view, rng, k=20: view.bald(int(k), rng))
def bald(view: PoolView, n: int, rng: np.random.Generator, k: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` unlabeled positions with the highest BALD mutual information over ``k`` passes,
    with their scores."""
    if int(k) < 2:
        raise UserError(f"bald needs k >= 2 MC-dropout passes, got {k}", key="strategy.params.k")
    mi = view.bald(int(k), rng)
    idx = top_k(mi, n, rng)
    return view.unlabeled[idx], mi[idx]
