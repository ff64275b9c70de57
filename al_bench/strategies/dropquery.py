"""``dropquery``: DropQuery (Gupte, Aklilu, Nirschl & Yeung-Levy, "Revisiting Active Learning in
the Era of Vision Foundation Models", TMLR 2024).

Uncertainty from dropout consistency, diversity from clustering. The head predicts every
unlabeled item once as it is and ``passes`` times with dropout at rate ``dropout`` on its inputs
(a fresh mask for every item in every pass; the paper uses M = 3 passes). The candidates are
the items whose predicted class changes in more than half of the passes. k-means
(:mod:`al_bench.kernels.kmeans`) on the candidates' embeddings, L2-normalized first when
``normalize`` (as the authors' code does), into n clusters; from each cluster, largest first,
the candidate nearest its centroid (the next nearest when an earlier centroid took it). With n
or fewer candidates all of them are taken, most flips first, and the rest of the batch is
uniform from ``rng`` among the other unlabeled items.
"""

from __future__ import annotations

import numpy as np

from ..kernels.distances import nearest_center, unit_rows
from ..kernels.kmeans import kmeans
from . import PoolView, register


def flip_counts(reference: np.ndarray, dropout_probs: np.ndarray) -> np.ndarray:
    """How many of the M passes predict another class than ``reference``. (N,) int64

    ``reference`` (N,) predicted classes without dropout; ``dropout_probs`` (M, N, C)."""
    return (np.asarray(dropout_probs).argmax(axis=2) != np.asarray(reference)[None, :]).sum(axis=0)


def nearest_to_centroids(x: np.ndarray, centers: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each centroid in ``order``, the row of ``x`` nearest it that no earlier centroid took.

    ``x`` (R, d) with R ≥ len(order); returns (len(order),) distinct row indices."""
    _, near = nearest_center(centers[order], x)
    taken = np.zeros(len(x), bool)
    out = np.empty(len(order), np.int64)
    for i, c in enumerate(order):
        j = int(near[i])
        if taken[j]:  # shared with an earlier centroid: its nearest free row instead
            d = ((x - centers[c]) ** 2).sum(axis=1, dtype=np.float64)
            d[taken] = np.inf
            j = int(np.argmin(d))
        taken[j] = True
        out[i] = j
    return out


@register("dropquery", needs={"probs", "dropout", "features"},
          score="share of the dropout passes whose predicted class differs from the head's (candidates: > 0.5)",
          param_ranges={"passes": (1, 1000), "dropout": (0.0, 0.99), "kmeans_iters": (1, 10_000)})
def dropquery(view: PoolView, n: int, rng: np.random.Generator, passes: int = 3, dropout: float = 0.75,
              normalize: bool = True, kmeans_iters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions: the candidate nearest each k-means centroid of the flipped
    items, or every flipped item and a random rest; with each pick's flip share."""
    passes = int(passes)
    reference = view.probs().argmax(axis=1)
    flips = flip_counts(reference, view.feature_dropout_probs(passes, float(dropout), rng))
    share = flips / passes
    cand = np.flatnonzero(2 * flips > passes)  # changed in more than half of the passes
    if cand.size <= n:
        first = cand[np.argsort(-flips[cand], kind="stable")]
        rest = np.setdiff1d(np.arange(view.unlabeled.size), cand, assume_unique=True)
        idx = np.concatenate([first, rng.choice(rest, size=n - cand.size, replace=False)]).astype(np.int64)
    else:
        x = view.embeddings[view.unlabeled[cand]]
        x = unit_rows(x) if normalize else np.ascontiguousarray(x, np.float32)
        centers, assign = kmeans(x, n, rng, int(kmeans_iters))
        sizes = np.bincount(assign, minlength=n)
        order = np.lexsort((np.arange(n), -sizes))  # largest cluster first, then the lowest index
        idx = cand[nearest_to_centroids(x, centers, order)]
    return view.unlabeled[idx], share[idx]
