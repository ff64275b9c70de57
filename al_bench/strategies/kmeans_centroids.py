"""``kmeans_centroids``: representative sampling — k-means with n clusters on the unlabeled
embeddings, then from each cluster the member nearest its centroid.

Needs only embeddings, so it can also pick the initial labeled set (``budget.initial_strategy=
kmeans_centroids``), as the centroid initial sets of low-budget studies do. It ignores where the
labeled items are (TypiClust is the variant that does not). Picks come largest cluster first.

Lloyd runs 3 steps from k-means++ seeds by default (``kmeans_iters``): on the `standard` schedule
it clusters the whole unlabeled pool into one cluster per pick in every round, and 20 steps made
it the slowest strategy by far. 3 steps leave the k-means objective within 0.2 % (48k synthetic
pool) and 2 % (CIFAR-10 subset) of 20 steps' and the learning curve unchanged within its 95 %
CI on 10 seeds; a warm start from the last round's centroids was tried and lost accuracy
(bench/README.md, "kmeans_centroids: fewer Lloyd steps").
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..kernels.distances import nearest_center, unit_rows
from ..kernels.kmeans import kmeans
from . import PoolView, register


@register("kmeans_centroids", needs={"features"}, score="size of the k-means cluster the pick is nearest the centre of",
          param_ranges={"kmeans_iters": (1, 10_000)})
def kmeans_centroids(view: PoolView, n: int, rng: np.random.Generator,
                     kmeans_iters: int = 3, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions, each the nearest member to the centroid of one of ``n`` k-means
    clusters of the unlabeled embeddings, with the cluster's size as its score."""
    if int(kmeans_iters) < 1:
        raise UserError(f"must be >= 1, got {kmeans_iters}", key="strategy.params.kmeans_iters")
    cand = view.unlabeled
    x = view.embeddings[cand]
    if normalize:  # cluster by direction (L2-normalized rows), as typiclust and dropquery do
        x = unit_rows(x)
    centers, assign = kmeans(x, n, rng, int(kmeans_iters))
    sizes = np.bincount(assign, minlength=n)
    picks, scores = [], []
    # largest cluster first (ties: lowest cluster index); the member nearest the centroid (ties: lowest position)
    for c in np.lexsort((np.arange(n), -sizes)):
        members = np.flatnonzero(assign == c)
        if members.size:
            diff = x[members].astype(np.float64) - centers[c].astype(np.float64)
            picks.append(int(members[np.argmin(np.einsum("ij,ij->i", diff, diff))]))
            scores.append(float(sizes[c]))
    if len(picks) < n:  # clusters left empty (duplicate points): the candidates nearest any centroid
        rest = np.setdiff1d(np.arange(cand.size), picks)
        d, _ = nearest_center(x[rest], centers)
        extra = rest[np.argsort(np.asarray(d, np.float64), kind="stable")[: n - len(picks)]]
        picks += extra.tolist()
        scores += [0.0] * extra.size
    return cand[np.asarray(picks, np.int64)], np.asarray(scores)
