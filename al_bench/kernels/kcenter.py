"""Greedy k-center (farthest-point) picks, exact as a float64 brute force, memory-bounded.

Lazy: adding a center only lowers distances, so a stale distance is an upper bound. The running
nearest-center distances are kept by blocks of rows, and a pick updates only the blocks whose
bound reaches the current maximum, each in one GEMM against the centers it missed; a pick then
costs far less than one pass over N rows. Nothing builds an N × N matrix (the pairwise matrix
is only for ≤ ``_DENSE`` pickable rows).
"""

from __future__ import annotations

import numpy as np

from .distances import _check_features, _exact_min_sq_dist, farthest_from_mean, nearest_center, rows32, sq_norms

__all__ = ["kcenter_greedy"]

_DENSE = 2048  # up to this many pickable rows, a float64 pairwise matrix (≤ 32 MB)
_BLOCK = 256  # rows per lazily updated block of plain row slices
_TILE = 2048  # most rows per spatially grouped block


def _tiles(x: np.ndarray, block: int, pivots: int = 64, sample: int = 4096):
    """Spatially compact blocks of rows, or None where they would not pay.

    Rows go to their nearest of ``pivots`` anchors (greedy farthest points of an evenly spaced
    sample: deterministic), one group per anchor, each cut into runs of at most ``block``
    rows. Returns (order int32 (N,), starts int64 (nb + 1,), centers float32 (nb, d), radii
    float64 (nb,)), rows sorted within each block. On clustered data a block lies within one
    cluster, so its bounding ball rules out most centers (:class:`_MinDist`); when the balls
    are wide against the distances between them (Gaussian-like data) None is returned: the
    gathers would then cost more than the plain row slices.
    """
    N = len(x)
    s = rows32(x, np.linspace(0, N - 1, min(sample, N)).astype(np.int64))
    s_sq = np.einsum("ij,ij->i", s, s)
    far = s_sq + s_sq[0] - 2.0 * (s @ s[0])
    anchors = [0]
    for _ in range(1, min(pivots, len(s))):
        j = int(np.argmax(far))
        anchors.append(j)
        np.minimum(far, s_sq + s_sq[j] - 2.0 * (s @ s[j]), out=far)
    _, group = nearest_center(x, s[anchors])
    order = np.argsort(group, kind="stable").astype(np.int32)  # stable: rows ascend within a group
    sizes = np.bincount(group, minlength=len(anchors))
    starts = [0]
    for size in sizes[sizes > 0].tolist():
        cuts = -(-size // block)
        starts.extend(starts[-1] + (np.arange(1, cuts + 1) * size) // cuts)
    starts = np.asarray(starts, np.int64)
    nb = starts.size - 1
    mu = np.empty((nb, x.shape[1]), np.float32)
    radius = np.empty(nb)
    grow = 1.0 + (x.shape[1] + 16) * float(np.finfo(np.float32).eps)  # float32 sum of d squares, rounded up
    for b in range(nb):
        xb = rows32(x, order[starts[b] : starts[b + 1]])
        mu[b] = xb.mean(axis=0)
        diff = xb - mu[b]
        radius[b] = np.sqrt(float(np.einsum("ij,ij->i", diff, diff).max()) * grow) * grow + 1e-6
    mu_sq = np.einsum("ij,ij->i", mu, mu)
    between = np.sqrt(np.maximum(mu_sq[:, None] + mu_sq[None, :] - 2.0 * (mu @ mu.T), 0.0))
    if np.median(between[np.triu_indices(nb, 1)]) <= 2.0 * np.median(radius):
        return None
    return order, starts, mu, radius


class _MinDist:
    """Running nearest-center distances for greedy k-center, updated lazily by blocks of rows.

    State: ``min_d`` float32 (N,) (−1 marks centers); with the float32 ‖x‖² and, when blocks
    are spatial, the int32 block order that is 8–12 bytes per point. Per block of rows
    (``_BLOCK`` plain, ≤ ``_TILE`` spatial): the number of centers it is up to date with, an
    upper bound on its largest ``min_d`` and a bounding ball; and O(M·d) for the centers.

    Adding a center only lowers distances, so a block's last maximum stays an upper bound
    however many centers were added since. A pick therefore brings up to date only the blocks
    whose bound reaches the current maximum (lazy greedy), each against all the centers it
    missed in one BLAS GEMM: blocks far from the top are touched rarely, and then by a
    compute-bound GEMM instead of one memory-bound pass per center.

    With ``prune``, blocks are spatially compact (:func:`_tiles`) and a missed center c is
    skipped for a block with center μ and radius r when (‖c − μ‖ − r)² exceeds the block's
    bound (triangle inequality: c is then farther from every row than its nearest center).
    """

    def __init__(self, x: np.ndarray, sqn: np.ndarray, capacity: int, prune: bool = True,
                 eps: float = 0.0) -> None:
        self.x, self.sqn = x, sqn
        self.centers = np.empty((capacity, x.shape[1]), np.float32)
        self.c_sq = np.empty(capacity, np.float32)
        self.m = 0
        self.min_d = np.full(len(x), np.inf, np.float32)
        tiles = _tiles(x, _TILE) if prune and len(x) > 2 * _TILE else None
        if tiles is None:
            self.order, self.ball = None, None
            self.starts = np.append(np.arange(0, len(x), _BLOCK), len(x)).astype(np.int64)
        else:
            self.order, self.starts, mu, radius = tiles
            mu64 = mu.astype(np.float64)
            self.ball = (mu64, np.einsum("ij,ij->i", mu64, mu64), radius)
        nb = self.starts.size - 1
        self.seen = np.zeros(nb, np.int64)  # centers each block is up to date with
        self.bound = np.full(nb, np.inf, np.float32)  # ≥ the block's true largest min_d
        # the allowance for float32 rounding in a stored distance (as in the candidate window)
        self.slack = float(eps) * 2.0 * float(sqn.max(initial=0.0))

    def _rows(self, b: int):
        """Rows of block ``b``: a slice, or sorted indices when blocks follow ``order``."""
        lo, hi = int(self.starts[b]), int(self.starts[b + 1])
        return slice(lo, hi) if self.order is None else self.order[lo:hi]

    def _settled(self) -> None:
        """Every block is up to date with the current centers; recompute the bounds."""
        self.seen[:] = self.m
        for b in range(self.seen.size):
            self.bound[b] = self.min_d[self._rows(b)].max()

    def seed(self, idx: np.ndarray, init: np.ndarray | None = None) -> None:
        """Start from the centers ``idx`` (sorted); ``init`` = known squared distances (N,)."""
        self.centers[: idx.size] = self.x[idx]
        self.c_sq[: idx.size] = self.sqn[idx]
        self.m = idx.size
        if init is None:
            self.min_d = nearest_center(self.x, rows32(self.x, idx))[0]  # the centers themselves: −1 below
        else:
            self.min_d = np.array(init, np.float32, copy=True)
        self.min_d[idx] = -1.0
        self._settled()

    def seed_external(self, centers: np.ndarray, min_d: np.ndarray) -> None:
        """Start from centers that are not rows of ``x``; ``min_d`` = each row's known squared
        distance to its nearest center."""
        m = len(centers)
        self.centers[:m] = centers
        self.c_sq[:m] = np.einsum("ij,ij->i", self.centers[:m], self.centers[:m])
        self.m = m
        self.min_d = np.array(min_d, np.float32, copy=True)
        self._settled()

    def add(self, j: int) -> None:
        """Make row ``j`` a center; distances are brought up to date lazily (:meth:`top`)."""
        self.centers[self.m] = self.x[j]
        self.c_sq[self.m] = self.sqn[j]
        self.m += 1
        self.min_d[j] = -1.0  # the block's bound stays valid: it only went down
        if self.ball is not None:  # up-to-date blocks the new center cannot reach stay so
            fresh = self.seen == self.m - 1
            fresh[fresh] = ~self._reaches(self.centers[self.m - 1 : self.m], np.flatnonzero(fresh))[0]
            self.seen[fresh] = self.m

    def _reaches(self, c: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """(len(c), len(blocks)) bool: may center c lower a distance in the block? False only
        when (‖c − μ‖ − r)² exceeds the block's bound beyond float32 rounding."""
        mu, mu_sq, radius = self.ball
        c64 = c.astype(np.float64)
        dist = np.einsum("ij,ij->i", c64, c64)[:, None] + mu_sq[None, blocks] - 2.0 * (c64 @ mu[blocks].T)
        gap = np.sqrt(np.maximum(dist, 0.0)) - radius[None, blocks]
        return (gap <= 0) | (gap * gap <= self.bound[blocks].astype(np.float64) * (1 + 1e-5) + self.slack)

    def top(self, eps: float, max_sqn: float) -> tuple[float, np.ndarray]:
        """The largest distance and every row within the float32 rounding allowance of it,
        after bringing up to date every block that could hold such a row."""
        bound, seen = self.bound, self.seen
        while True:
            b = int(np.argmax(bound))
            if seen[b] < self.m:
                self._refresh(b)
                continue
            top = float(bound[b])
            lo = max(top - eps * (2.0 * max_sqn + top), 0.0)
            near_top = np.flatnonzero(bound >= lo)
            stale = near_top[seen[near_top] < self.m]
            if stale.size == 0:
                break
            for s in stale.tolist():
                self._refresh(s)
        rows = []
        for s in near_top.tolist():
            r = self._rows(s)
            hit = np.flatnonzero(self.min_d[r] >= lo)
            rows.append(hit + r.start if isinstance(r, slice) else r[hit])
        return top, np.sort(np.concatenate(rows))

    def _refresh(self, b: int) -> None:
        """Bring block ``b`` up to date with the centers added since it was last."""
        lo, m = int(self.seen[b]), self.m
        self.seen[b] = m
        c, c_sq = self.centers[lo:m], self.c_sq[lo:m]
        if self.ball is not None:  # only the centers that can reach a row of the block
            keep = self._reaches(c, np.array([b]))[:, 0]
            if not keep.any():
                return
            if not keep.all():
                c, c_sq = c[keep], c_sq[keep]
        rows = self._rows(b)
        d = rows32(self.x, rows) @ c.T
        d *= -2.0
        d += c_sq[None, :]
        best = d.min(axis=1)
        best += self.sqn[rows]
        np.maximum(best, 0.0, out=best)
        cur = self.min_d[rows]  # a view for a slice, a copy for indices
        np.minimum(cur, best, out=cur)  # centers hold −1 and stay so
        if not isinstance(rows, slice):
            self.min_d[rows] = cur
        self.bound[b] = cur.max()


def kcenter_greedy(
    features: np.ndarray,
    labeled: np.ndarray | None,
    n: int,
    rng: np.random.Generator | None = None,
    prune: bool | None = None,
    init=None,
) -> np.ndarray:
    """Greedy k-center (farthest-point) picks, seeded by ``labeled``. (N, d) → (n,) in pick order.

    Each pick is the point whose squared distance to its nearest center (labeled or already
    picked) is largest. The running min-distance vector is kept lazily by blocks of rows
    (:class:`_MinDist`): a pick updates only the blocks that could hold the maximum, each in one
    GEMM against the centers it missed; with ``prune`` (by default from 8,192 points up) the
    blocks are spatially compact and centers their bounding ball rules out are skipped. Memory:
    8–12 bytes per point plus O(M·d) for the centers and O(block · M) temporaries, never N × N.

    ``init`` = (squared distance of every row to its nearest labeled row (N,), that row's index
    (N,)), or a function returning them, skips the seeding pass when the caller keeps these up
    to date (the AL loop does); only the distances are read, and a function is called only when
    they are needed (not when ≤ ``_DENSE`` rows can be picked: those get exact distances anyway).

    The order equals a float64 brute-force greedy: the float32 arg-max is only a shortlist; all
    points within the float32 rounding bound of the maximum are re-scored exactly in float64
    against every center, and exact ties go to the lowest index. With no labeled point the
    first pick is uniform from ``rng``, or, without ``rng``, the point farthest from the mean.
    """
    x = _check_features(features, stored=True)  # float16 / float32 as stored (a memory map stays one)
    N, d = x.shape
    lab = np.unique(np.asarray(labeled if labeled is not None else [], dtype=np.int64))
    if lab.size and (lab[0] < 0 or lab[-1] >= N):
        raise ValueError(f"labeled indices must lie in [0, {N})")
    n = int(n)
    if not 0 <= n <= N - lab.size:
        raise ValueError(f"cannot pick n={n} from {N - lab.size} unlabeled points")
    if n == 0:
        return np.empty(0, np.int64)
    sqn = sq_norms(x)
    # float32 error allowance for ‖x‖² + ‖c‖² − 2 x·c, relative to the magnitudes involved:
    # blocked SIMD/FMA dot products err by ~√d·u·‖x‖‖c‖; 4× that with a floor leaves ample room
    eps = 4.0 * (2.0 * np.sqrt(d) + 16.0) * np.finfo(np.float32).eps
    max_sqn = float(sqn.max())
    prune = N >= 8192 if prune is None else prune
    first = None
    if lab.size == 0:
        if rng is not None:
            first = int(rng.integers(N))
        else:
            first = farthest_from_mean(x)
    if N - lab.size <= _DENSE:  # few rows can be picked: all their pairwise distances at once
        unl = np.setdiff1d(np.arange(N), lab)
        xu = np.ascontiguousarray(rows32(x, unl))
        return unl[_greedy_dense(xu, rows32(x, lab), sqn[unl], sqn[lab], n, first, eps, max_sqn)]

    def known() -> np.ndarray:  # the caller's distances to the labeled set
        return np.asarray((init() if callable(init) else init)[0])

    if lab.size > N // 4:
        # many labeled points: work on a compact copy of the unlabeled rows, the labeled ones as
        # external centers (each pick then touches only the rows that can still be picked)
        unl = np.setdiff1d(np.arange(N), lab)
        d0 = nearest_center(x, rows32(x, lab), unl)[0] if init is None else known()
        state = _MinDist(np.ascontiguousarray(x[unl]), sqn[unl], lab.size + n, prune, eps=eps)
        state.seed_external(rows32(x, lab), d0[unl])
        return unl[_greedy(state, n, 0, np.empty(n, np.int64), eps, max_sqn)]
    state = _MinDist(x, sqn, lab.size + n, prune, eps=eps)
    picks = np.empty(n, np.int64)
    start = 0
    if lab.size:
        state.seed(lab, None if init is None else known())
    else:
        picks[0], start = first, 1
        state.add(first)
    return _greedy(state, n, start, picks, eps, max_sqn)


def _greedy_dense(xu: np.ndarray, xl: np.ndarray, squ: np.ndarray, sql: np.ndarray, n: int,
                  first: int | None, eps: float, max_sqn: float) -> np.ndarray:
    """Farthest-point picks among the rows ``xu`` (few: ≤ ``_DENSE``), seeded by ``xl``.

    Each row's distance to the seeds is computed exactly once (float64 difference form for the
    seeds within float32 rounding of its nearest), the rows' pairwise distances in one float64
    GEMM (≤ 32 MB); a pick then costs one vector minimum. The float64 rounding allowance is
    ~1e-9 of float32's, so the float64 re-check of near-ties (lowest index on exact ties) is
    rare instead of nearly every pick. Returns positions in ``xu``.
    """
    U, L = len(xu), len(xl)
    centers = np.empty((L + n, xu.shape[1]), np.float32)  # the seeds, then the picks in order
    c_sq = np.empty(L + n, np.float32)
    m = L  # centers so far
    centers[:L] = xl
    c_sq[:L] = sql
    min_d = _exact_min_sq_dist(xu, xl, sql, eps) if L else np.full(U, np.inf)
    checked = {r: (v, L) for r, v in enumerate(min_d.tolist())}  # row → (exact over first m0 centers, m0)
    x64 = xu.astype(np.float64)
    s64 = np.einsum("ij,ij->i", x64, x64)
    dist = x64 @ x64.T
    del x64
    dist *= -2.0
    dist += s64[:, None]
    dist += s64[None, :]
    np.maximum(dist, 0.0, out=dist)
    eps64 = eps * float(np.finfo(np.float64).eps / np.finfo(np.float32).eps)
    picks = np.empty(n, np.int64)

    def take(k: int, j: int) -> None:
        nonlocal m
        picks[k] = j
        centers[m] = xu[j]
        c_sq[m] = squ[j]
        m += 1
        np.minimum(min_d, dist[j], out=min_d)  # picked rows hold −1 and stay so
        min_d[j] = -1.0

    start = 0
    if first is not None:
        take(0, first)
        start = 1
    for k in range(start, n):
        top = float(min_d.max())
        cand = np.flatnonzero(min_d >= max(top - eps64 * (2.0 * max_sqn + top), 0.0))
        if cand.size > 1:  # near-tie even in float64 (duplicates, exact ties): difference form
            exact = _exact_rechecked(xu, cand, centers[:m], c_sq[:m], min_d, checked, eps)
            take(k, int(cand[np.flatnonzero(exact == exact.max())[0]]))
        else:
            take(k, int(cand[0]))
    return picks


def _greedy(state: _MinDist, n: int, start: int, picks: np.ndarray, eps: float, max_sqn: float) -> np.ndarray:
    """Farthest-point picks ``start`` … n − 1 on ``state``'s rows (indices into its ``x``)."""
    x = state.x
    # exact float64 distance of a re-checked row to its nearest of the first m centers: the same
    # rows come up as near-tied candidates pick after pick, and then only the centers added since
    # their last check need scoring (with many labeled centers this is most of the re-check cost)
    checked: dict[int, tuple[float, int]] = {}
    for k in range(start, n):
        top, cand = state.top(eps, max_sqn)
        if cand.size > 1:  # near-tie in float32: decide in float64, lowest index on exact ties
            m = state.m
            exact = _exact_rechecked(x, cand, state.centers[:m], state.c_sq[:m], state.min_d, checked, eps)
            best = int(cand[np.flatnonzero(exact == exact.max())[0]])
        else:
            best = int(cand[0])
        picks[k] = best
        state.add(best)
    return picks


def _exact_rechecked(x: np.ndarray, cand: np.ndarray, centers: np.ndarray, c_sq: np.ndarray, min_d: np.ndarray,
                     checked: dict[int, tuple[float, int]], eps: float, prefetch: int = 16) -> np.ndarray:
    """Float64 min squared distance of rows ``cand`` of ``x`` to all ``centers`` (m, d) (``c_sq``
    their float32 ‖c‖²), reusing ``checked`` (row → (exact min over the first m0 centers, m0))
    and updating it. ``min_d`` (rows of ``x``; < 0 marks centers) are the running distances.

    A pass over all centers costs about the same for 1 row as for 16 (it streams the centers),
    so a pass for new rows also scores the ``prefetch`` farthest rows not yet checked: they are
    the likely candidates of the next picks.
    """
    m = len(centers)
    fresh = [int(r) for r in cand if int(r) not in checked]
    if fresh:
        k = min(prefetch + cand.size, min_d.size)
        top = np.argpartition(min_d, min_d.size - k)[-k:]
        extra = [int(r) for r in top if min_d[r] >= 0 and int(r) not in checked and int(r) not in set(fresh)]
        rows = np.array(fresh + extra[:prefetch], np.int64)
        exact = _exact_min_sq_dist(x[rows], centers, c_sq, eps)
        for r, v in zip(rows.tolist(), exact.tolist()):
            checked[r] = (v, m)
    since = np.array([checked[int(r)][1] for r in cand], np.int64)
    exact = np.array([checked[int(r)][0] for r in cand], np.float64)
    for lo in np.unique(since):  # one pass per group of rows last checked at the same m0
        if lo < m:
            g = np.flatnonzero(since == lo)
            exact[g] = np.minimum(exact[g], _exact_min_sq_dist(x[cand[g]], centers[lo:m], c_sq[lo:m], eps))
    for r, v in zip(cand.tolist(), exact.tolist()):
        checked[r] = (v, m)
    return exact
