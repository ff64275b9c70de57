"""``probcover``: ProbCover (Yehuda, Dekel, Hacohen & Weinshall, "Active Learning Through a
Covering Lens", NeurIPS 2022).

For low budgets: label the points whose δ-balls cover most of the pool. On L2-normalized
embeddings the δ-ball of x holds every point closer than δ (Euclidean, strictly; x itself too).
δ is the largest value of :data:`DELTA_GRID` (0.05, 0.10, …, 1.00; unit vectors are at most 2
apart) whose balls are at least ``purity`` pure with respect to k-means pseudo-labels (k = the
number of classes, or ``n_clusters``): the ball of x is pure when every point in it has x's
pseudo-label, i.e. when the nearest point of another pseudo-class is at least δ away; the
smallest grid value when none is. ``delta`` > 0 skips the search and uses that value.

Points in the balls of labeled items start covered. Then n times: the unlabeled point whose
ball holds the most uncovered points is picked (exact ties uniformly from ``rng``), its ball's
points become covered, and every ball loses them (the covered points' edges are removed).
Once every point is covered the rest of the batch is uniform from ``rng``. A pick's score is
the number of points it newly covered.

Memory: the graph is sparse (CSR, int32, each pair stored in both directions), built from
blocks of rows against the rest of the pool by one GEMM each, so no N × N matrix ever exists;
the purity search uses the same blocks. ``max_edges`` caps the number of pairs: when the graph
at δ would hold more, δ steps down the grid until it fits. Costs at 50k × 384: bench/README.md
(bench/probcover.py).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import UserError
from ..kernels.distances import unit_rows
from ..kernels.kmeans import kmeans
from . import PoolView, register

__all__ = ["DELTA_GRID", "unit_rows", "other_class_distance", "choose_delta", "purity_delta", "delta_graph",
           "greedy_cover"]

log = logging.getLogger(__name__)

DELTA_GRID = np.round(np.arange(1, 21) * 0.05, 2)  # the δ values the purity rule chooses from
_BLOCK = 1 << 23  # elements of one (rows × pool) block: 32 MB of float32, whatever N is


def _rows_per_block(n: int, block: int) -> int:
    return max(1, min(n, int(block) // max(1, n)))


def other_class_distance(xn: np.ndarray, labels: np.ndarray, block: int = _BLOCK) -> np.ndarray:
    """Distance from each row of ``xn`` (unit rows) to the nearest row with another label; inf
    when there is none. (N,) float64

    One GEMM per block of rows against the rows from that block on (each pair is seen once and
    updates both its ends), on [x, 2·onehot] against [x, −2·onehot]: a same-label pair's product
    drops by 4, below any other pair's (≥ −1), so a max over the block ignores it.
    """
    labels = np.asarray(labels, np.int64)
    n, k = len(xn), int(labels.max()) + 1 if len(labels) else 1
    onehot = np.zeros((n, k), np.float32)
    onehot[np.arange(n), labels] = 2.0
    a = np.concatenate([xn, onehot], axis=1)
    b = np.concatenate([xn, -onehot], axis=1)
    best = np.full(n, -np.inf, np.float32)
    step = _rows_per_block(n, block)
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        s = a[i0:i1] @ b[i0:].T  # (rows, n − i0)
        np.maximum(best[i0:i1], s.max(axis=1), out=best[i0:i1])
        np.maximum(best[i0:], s.max(axis=0), out=best[i0:])
    best = best.astype(np.float64)
    return np.where(best < -2.0, np.inf, np.sqrt(np.maximum(2.0 - 2.0 * best, 0.0)))


def choose_delta(r: np.ndarray, purity: float, grid: np.ndarray = DELTA_GRID) -> float:
    """The largest δ of ``grid`` whose balls are at least ``purity`` pure, given each point's
    distance ``r`` to the nearest point of another pseudo-class (a ball is pure iff r ≥ δ); the
    smallest grid value when none is."""
    r = np.asarray(r, np.float64)
    ok = [g for g in np.sort(grid) if (r >= g).mean() >= purity]
    return float(ok[-1]) if ok else float(np.min(grid))


def purity_delta(xn: np.ndarray, n_clusters: int, rng: np.random.Generator, purity: float = 0.95,
                 kmeans_iters: int = 20) -> float:
    """δ by the purity rule on unit rows ``xn``: k-means pseudo-labels (k = ``n_clusters``, at
    most N, seeded from ``rng``), then :func:`choose_delta`."""
    _, labels = kmeans(xn, min(int(n_clusters), len(xn)), rng, int(kmeans_iters))
    return choose_delta(other_class_distance(xn, labels), purity)


def delta_graph(xn: np.ndarray, deltas, max_edges: int, block: int = _BLOCK) -> tuple[np.ndarray, np.ndarray, float]:
    """The δ-ball graph of unit rows ``xn``: (indptr (N+1,) int64, indices int32, δ used).

    Row i of the CSR lists every j ≠ i with ‖x_i − x_j‖ < δ (symmetric; the point itself is
    implicit). ``deltas`` are tried largest first: while the pairs found exceed ``max_edges``,
    δ moves to the next value and the pairs kept so far are filtered, so the result is the
    graph of the largest given δ that fits. One GEMM per block of rows against the rows from it
    on; only pairs i < j are kept, then mirrored.
    """
    import scipy.sparse as sp

    deltas = sorted((float(d) for d in deltas), reverse=True)
    n = len(xn)
    level = 0
    cut = 1.0 - deltas[0] ** 2 / 2.0  # for unit rows ‖a − b‖² = 2 − 2 a·b
    step = _rows_per_block(n, block)
    upper = np.triu(np.ones((step, step), bool), k=1)
    rows, cols, sims = [], [], []
    total = 0
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        s = xn[i0:i1] @ xn[i0:].T
        hit = s > cut
        hit[:, : i1 - i0] &= upper[: i1 - i0, : i1 - i0]  # in the diagonal block only j > i
        r, c = np.nonzero(hit)
        rows.append((r + i0).astype(np.int32))
        cols.append((c + i0).astype(np.int32))
        sims.append(s[r, c])
        total += r.size
        while total > max_edges:
            level += 1
            if level == len(deltas):
                raise UserError(f"even δ = {deltas[-1]:g} links more than {max_edges} pairs of points; raise "
                                "max_edges or give a smaller delta", key="strategy.params.max_edges")
            cut = 1.0 - deltas[level] ** 2 / 2.0
            for t in range(len(rows)):
                keep = sims[t] > cut
                rows[t], cols[t], sims[t] = rows[t][keep], cols[t][keep], sims[t][keep]
            total = sum(r.size for r in rows)
    del sims
    i = np.concatenate(rows) if rows else np.empty(0, np.int32)
    j = np.concatenate(cols) if cols else np.empty(0, np.int32)
    del rows, cols
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])  # i comes sorted: rows in block order
    upper_csr = sp.csr_matrix((np.ones(i.size, np.int8), j, indptr), shape=(n, n))
    del i, j
    full = (upper_csr + upper_csr.T).tocsr()
    return full.indptr.astype(np.int64), full.indices.astype(np.int32, copy=False), deltas[level]


def _neighbours(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The concatenated CSR rows of ``nodes`` (with repeats)."""
    starts = indptr[nodes]
    lens = indptr[nodes + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, np.int64)
    offsets = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
    return indices[offsets]


def greedy_cover(indptr: np.ndarray, indices: np.ndarray, labeled: np.ndarray, unlabeled: np.ndarray, n: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Greedy max coverage on a δ-ball graph (CSR from :func:`delta_graph`): (picks (n,), newly
    covered counts (n,)). Labeled balls start covered; ties and the picks after full coverage
    come from ``rng``."""
    size = len(indptr) - 1
    covered = np.zeros(size, bool)
    labeled = np.asarray(labeled, np.int64)
    if labeled.size:
        covered[labeled] = True
        covered[_neighbours(indptr, indices, labeled)] = True
    # deg[x]: uncovered points in the ball of x (x itself and its neighbours)
    run = np.zeros(len(indices) + 1, np.int32 if len(indices) < 2**31 else np.int64)
    np.cumsum(~covered[indices], out=run[1:])
    deg = run[indptr[1:]] - run[indptr[:-1]] + ~covered
    free = np.zeros(size, bool)
    free[np.asarray(unlabeled, np.int64)] = True
    picks, scores = [], []
    while len(picks) < n:
        masked = np.where(free, deg, -1)
        best = int(masked.max())
        if best <= 0:
            break  # everything is covered
        ties = np.flatnonzero(masked == best)
        p = int(ties[rng.integers(ties.size)]) if ties.size > 1 else int(ties[0])
        ball = indices[indptr[p] : indptr[p + 1]]
        new = ball[~covered[ball]].astype(np.int64)
        if not covered[p]:
            new = np.append(new, p)
        covered[new] = True
        deg[new] -= 1  # each loses itself ...
        deg -= np.bincount(_neighbours(indptr, indices, new), minlength=size)  # ... and every ball it was in loses it
        free[p] = False
        picks.append(p)
        scores.append(new.size)
    if len(picks) < n:
        rest = rng.choice(np.flatnonzero(free), size=n - len(picks), replace=False)
        picks.extend(int(p) for p in rest)
        scores.extend([0] * rest.size)
    return np.asarray(picks, np.int64), np.asarray(scores, np.float64)


@register("probcover", needs={"features"},
          score="points newly covered by the pick's δ-ball (0 once every point is covered)",
          param_ranges={"delta": (0.0, 2.0), "purity": (0.0, 1.0), "n_clusters": (0, 100_000),
                        "max_edges": (1, 2**31 - 1), "kmeans_iters": (1, 10_000)})
def probcover(view: PoolView, n: int, rng: np.random.Generator, delta: float = 0.0, purity: float = 0.95,
              n_clusters: int = 0, max_edges: int = 20_000_000, kmeans_iters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions by greedy δ-ball coverage, with the number each newly covered."""
    k = int(n_clusters) or int(view.n_classes)
    if delta <= 0 and k < 1:
        raise UserError("the number of classes is not known here: give how many k-means pseudo-classes the "
                        "purity rule uses (or a fixed delta)", key="strategy.params.n_clusters")

    def graph(g: np.random.Generator):
        xn = unit_rows(view.embeddings)
        top = float(delta) if delta > 0 else purity_delta(xn, k, g, float(purity), int(kmeans_iters))
        indptr, indices, used = delta_graph(xn, [top] + [v for v in DELTA_GRID if v < top], int(max_edges))
        if used < top:
            log.info("probcover: delta %.2f (%s) links more than max_edges = %d pairs; using %.2f (%d pairs)", top,
                     "given" if delta > 0 else "purity rule", int(max_edges), used, len(indices) // 2)
        return indptr, indices

    # δ and the graph depend on the embeddings only: a run builds them once (PoolView.cached)
    indptr, indices = view.cached(("probcover.graph", float(delta), float(purity), k, int(max_edges),
                                   int(kmeans_iters)), graph, rng)
    return greedy_cover(indptr, indices, view.labeled, view.unlabeled, n, rng)
