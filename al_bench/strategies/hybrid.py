"""``hybrid`` ("BADGE-lite"): an entropy shortlist, then k-center on embeddings.

Shortlist the ``shortlist_factor`` × n most uncertain unlabeled points by entropy, then pick n
of them by greedy k-center in embedding space, seeded by the labeled set: uncertain, but not
redundant. In the first ``cold_rounds`` rounds the head has seen too few labels for its
uncertainty to mean much, so the pick is k-center over all unlabeled points (embeddings only).
The share of each batch drawn at random is ``strategy.random_fraction`` (0.1 in its YAML).
"""

from __future__ import annotations

import numpy as np

from .. import scores
from ..errors import UserError
from ..kernels.distances import pick_distances
from ..kernels.kcenter import kcenter_greedy
from ..kernels.topk import top_k
from . import PoolView, register


@register("hybrid", needs={"probs", "features"},
          score="distance to the nearest labeled or earlier pick (embedding units)",
          pick_scores=lambda view, picks: pick_distances(view.embeddings, picks, view.labeled), cold_start=True,
          param_ranges={"shortlist_factor": (1.0, 1000.0), "cold_rounds": (0, 1_000_000)})
def hybrid(view: PoolView, n: int, rng: np.random.Generator, shortlist_factor: float = 2.0,
           cold_rounds: int = 1) -> np.ndarray:
    """``n`` unlabeled positions: k-center within the entropy shortlist (k-center alone when cold)."""
    if shortlist_factor < 1:
        raise UserError(f"must be >= 1, got {shortlist_factor}", key="strategy.params.shortlist_factor")
    if view.in_cold_start(cold_rounds):
        return kcenter_greedy(view.embeddings, view.labeled, n, rng, init=view.labeled_distances)
    m = min(view.unlabeled.size, max(n, int(np.ceil(shortlist_factor * n))))
    shortlist = view.unlabeled[top_k(scores.entropy(view.probs()), m, rng)]
    # k-center on [labeled; shortlist], seeded by the labeled rows: only shortlist rows are picked
    L = view.labeled.size
    rows = np.concatenate([view.labeled, shortlist])

    def init() -> tuple[np.ndarray, np.ndarray]:  # only the shortlist's rows, and only if needed
        d_short, near_short = view.labeled_distances(shortlist)
        local = np.empty(len(view.embeddings), np.int64)
        local[view.labeled] = np.arange(L)  # pool position of a labeled item → its row here
        return (np.concatenate([np.zeros(L, np.float32), d_short]),
                np.concatenate([np.arange(L), local[near_short]]))

    picked = kcenter_greedy(view.embeddings[rows], np.arange(L), n, rng, init=init)
    return rows[picked]
