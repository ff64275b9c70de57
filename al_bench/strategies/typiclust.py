"""``typiclust``: TypiClust (Hacohen, Dekel & Weinshall, "Active Learning on a Budget", ICML 2022).

For low budgets, where uncertainty is not yet worth much: cluster the pool's embeddings into
(labeled + n) clusters with k-means, then pick n times from the cluster with the fewest labeled
or picked points (the largest such cluster on ties; clusters under ``min_cluster_size`` only
when no other is left), its most *typical* unlabeled point: typicality(x) = 1 / (mean
Euclidean distance from x to its k nearest neighbours among the cluster's unlabeled, not yet
picked points), k = min(``k_neighbors``, half of those points) as in the authors' code, so a
small cluster's density is not its centrality. Picks are dense and diverse: one
representative per uncovered region. The number of clusters is capped at ``max_clusters`` to
bound the k-means cost at larger budgets.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..kernels.distances import unit_rows
from ..kernels.kmeans import kmeans
from . import PoolView, register


def typicality(points: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """1 / mean distance from ``points[rows]`` to their ``k`` nearest other points. (R,)

    Float64, in row blocks of at most ~4 M distances, so a large cluster costs bounded memory.
    """
    p = np.asarray(points, np.float64)
    rows = np.asarray(rows, np.int64)
    sq = (p * p).sum(1)
    k = max(1, min(int(k), len(p) - 1))
    out = np.empty(len(rows))
    step = max(1, (1 << 22) // max(1, len(p)))
    for s in range(0, len(rows), step):
        r = rows[s : s + step]
        d = np.sqrt(np.maximum(sq[r, None] + sq[None, :] - 2.0 * (p[r] @ p.T), 0.0))
        d[np.arange(len(r)), r] = np.inf  # not its own neighbour
        out[s : s + step] = 1.0 / np.maximum(np.partition(d, k - 1, axis=1)[:, :k].mean(axis=1), 1e-12)
    return out


@register("typiclust", needs={"features"},
          score="typicality: 1 / mean distance to the k_neighbors nearest points of its cluster",
          param_ranges={"k_neighbors": (1, 10_000), "min_cluster_size": (1, 1_000_000), "max_clusters": (1, 100_000),
                        "kmeans_iters": (1, 10_000)})
def typiclust(view: PoolView, n: int, rng: np.random.Generator, k_neighbors: int = 20, min_cluster_size: int = 5,
              max_clusters: int = 500, kmeans_iters: int = 20, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions, one per least-covered cluster, each its cluster's most typical."""
    for key, value in (("k_neighbors", k_neighbors), ("min_cluster_size", min_cluster_size),
                       ("max_clusters", max_clusters), ("kmeans_iters", kmeans_iters)):
        if int(value) < 1:
            raise UserError(f"must be >= 1, got {value}", key=f"strategy.params.{key}")
    # on L2-normalized embeddings (as the reference code's features are) clusters follow
    # direction, not scale: bench/cold_start.py measures what it does to the picks
    x = unit_rows(view.embeddings) if normalize else view.embeddings
    n_clusters = min(view.labeled.size + n, int(max_clusters), len(x))
    # the clustering of the whole pool depends on the embeddings and the number of clusters
    # only: once n_clusters reaches max_clusters a run computes it once (PoolView.cached)
    assign = view.cached(("typiclust.kmeans", n_clusters, int(kmeans_iters), bool(normalize)),
                         lambda g: kmeans(x, n_clusters, g, int(kmeans_iters))[1], rng)
    sizes = np.bincount(assign, minlength=n_clusters)
    covered = np.bincount(assign[view.labeled], minlength=n_clusters)
    free = np.zeros(len(x), bool)
    free[view.unlabeled] = True
    free_count = np.bincount(assign[view.unlabeled], minlength=n_clusters)
    picks, scores = [], []
    for _ in range(n):
        eligible = free_count > 0
        if (eligible & (sizes >= int(min_cluster_size))).any():
            eligible &= sizes >= int(min_cluster_size)
        # fewest labeled first, then the largest, then the lowest cluster index
        order = np.lexsort((np.arange(n_clusters), -sizes, covered))
        c = int(order[eligible[order]][0])
        members = np.flatnonzero((assign == c) & free)
        typ = typicality(x[members], np.arange(members.size), max(1, min(int(k_neighbors), members.size // 2)))
        best = int(np.argmax(typ))  # ties: the lowest position
        pos = int(members[best])
        picks.append(pos)
        scores.append(float(typ[best]))
        free[pos] = False
        free_count[c] -= 1
        covered[c] += 1
    return np.asarray(picks, np.int64), np.asarray(scores)
