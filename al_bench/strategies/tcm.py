"""``tcm``: TypiClust, then margin — the simplest strategy that chooses for the budget regime.

At low budgets the typical, diverse points of TypiClust are worth more than the uncertainty of a
head that has seen a few labels per class; later, margin sampling is. ``tcm`` (after the
TypiClust-to-margin switch of Doucet et al., 2024) picks with ``typiclust`` while fewer than
``switch_per_class`` × C items are labeled (C: the classes of the head), and with ``margin``
from there on; a one-off pick without model outputs is always TypiClust.

The default switch, 10 labels per class, is where al_bench's 10-seed study saw the two cross on
both datasets it ran (``docs/study``: TypiClust's gain over random at or above margin's up to
10 labels per class on digits and the CIFAR-10 subset, margin's above it at 20 on digits).
Every round records which of the two picked and why (``PoolView.decide``: ``decisions.csv`` in
a run folder, ``params["candidate"]``/``["reason"]`` of a one-off selection). The score of a
pick is its candidate's: typicality, or 1 − (p₁ − p₂).
"""

from __future__ import annotations

import numpy as np

from .. import scores
from ..errors import UserError
from . import PoolView, register
from ._uncertainty import pick_most_uncertain, scores_of
from .typiclust import typiclust

_margin_scores = scores_of(scores.margin)


@register("tcm", needs={"probs", "features"}, cold_start=True,
          score="the candidate's: typicality (typiclust phase) or 1 - (p1 - p2) (margin phase)",
          param_ranges={"switch_per_class": (0, 1_000_000), "k_neighbors": (1, 10_000),
                        "min_cluster_size": (1, 1_000_000), "max_clusters": (1, 100_000), "kmeans_iters": (1, 10_000)})
def tcm(view: PoolView, n: int, rng: np.random.Generator, switch_per_class: float = 10.0, k_neighbors: int = 20,
        min_cluster_size: int = 5, max_clusters: int = 500, kmeans_iters: int = 20,
        normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions: TypiClust below ``switch_per_class`` labels per class, margin from there."""
    if switch_per_class < 0:
        raise UserError(f"must be >= 0, got {switch_per_class}", key="strategy.params.switch_per_class")
    switch = float(switch_per_class) * view.n_classes
    labeled = int(view.labeled.size)
    if view.model is None or labeled < switch:
        why = (f"{labeled} labeled < {switch_per_class:g} per class x {view.n_classes} classes"
               if view.model is not None else "no model outputs yet")
        view.decide("typiclust", why)
        return typiclust(view, n, rng, k_neighbors=k_neighbors, min_cluster_size=min_cluster_size,
                         max_clusters=max_clusters, kmeans_iters=kmeans_iters, normalize=normalize)
    view.decide("margin", f"{labeled} labeled >= {switch_per_class:g} per class x {view.n_classes} classes")
    picks = pick_most_uncertain(view, n, rng, scores.margin)
    return picks, _margin_scores(view, picks)
