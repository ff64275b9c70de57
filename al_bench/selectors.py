"""Selectors: turn scores or features into picked indices. Pure; randomness is an argument.

Memory is bounded: nothing here builds an N × N (or N × C·d) matrix (k-center's pairwise
matrix is only for ≤ 2,048 pickable rows). Distances run through BLAS on blocks of rows.

Greedy k-center and k-means++ are lazy: adding a center only lowers distances, so stale
distances are upper bounds. k-center updates only the blocks of rows whose bound reaches the
current maximum; k-means++ draws from the bounds and accepts with probability (current /
bound) (rejection sampling). Both then cost far less than one pass over N rows per pick.
"""

from __future__ import annotations

import numpy as np

__all__ = ["top_k", "kcenter_greedy", "kmeans_pp", "kmeans_pp_factored", "nearest_center"]

_CHUNK = 1 << 13  # rows per distance pass: bounds temporaries to O(chunk · d) whatever N is
_DENSE = 2048  # k-center: up to this many pickable rows, a float64 pairwise matrix (≤ 32 MB)
_BLOCK = 256  # k-center: rows per lazily updated block of plain row slices
_TILE = 2048  # k-center: most rows per spatially grouped block
_KPP_BLOCK = 2048  # k-means++: rows per block of distance bounds
_ROW_CHECK_MAX = 2048  # k-means++: past this many missed centers a proposal updates its block
_LOOSE = 128  # k-means++: a rejection in a block that missed more centers updates the block


def top_k(scores: np.ndarray, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first. (N,) → (n,).

    Exact ties are broken uniformly at random with ``rng`` (by lowest index when ``rng`` is
    None), so a block of equal scores never favours the start of the pool.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores contain {int((~np.isfinite(s)).sum())} NaN or infinite values")
    n = int(n)
    if not 0 <= n <= s.size:
        raise ValueError(f"cannot pick n={n} items from {s.size} scores")
    order = np.arange(s.size) if rng is None else rng.permutation(s.size)
    # stable sort on -score keeps the (random) permutation order among equal scores
    best = order[np.argsort(-s[order], kind="stable")[:n]]
    return best.astype(np.int64)


def _check_features(features: np.ndarray, name: str = "features") -> np.ndarray:
    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, d), got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    for s in range(0, len(x), _CHUNK):  # chunked: no N × d boolean temporary
        bad = ~np.isfinite(x[s : s + _CHUNK])
        if bad.any():
            row = s + int(np.argwhere(bad)[0][0])
            raise ValueError(f"{name} contain NaN or infinite values (first in row {row})")
    return x


def nearest_center(x: np.ndarray, centers: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center of every row (or of ``rows`` only, others get +inf / −1).

    Returns (min_j ‖x_i − c_j‖² float32 (N,), argmin j int32 (N,); exact ties to the lowest j).
    The argmin comes from ‖c‖² − 2 x·c, one BLAS GEMM per block of rows; the distance returned is
    then ‖x − c_j‖² in difference form (exactly 0 for a row equal to its center). Blocks of rows
    are sized so the (rows × centers) slab stays ≤ 32 MB whatever the number of centers and the
    (rows × d) temporaries ≤ 4 MB each.
    (faiss-cpu's IndexFlatL2 search was 3–5× slower for these shapes on this machine's class:
    48k rows × 480 centers 0.40 s vs 0.09 s, 24k × 24k 7.4 s vs 2.1 s.)
    """
    x = np.asarray(x, np.float32)
    c = np.ascontiguousarray(centers, np.float32)
    dist = np.full(len(x), np.inf, np.float32)
    arg = np.full(len(x), -1, np.int32)
    if len(c) == 0:
        return dist, arg
    c_sq = np.einsum("ij,ij->i", c, c)
    rows = None if rows is None else np.asarray(rows, np.int64)
    step = int(max(64, min(_CHUNK, (1 << 23) // len(c), (1 << 20) // x.shape[1])))
    for s in range(0, len(x) if rows is None else rows.size, step):
        if rows is None:  # all rows: plain slices, no index array
            r = slice(s, s + step)
            block = x[r]
        else:
            r = rows[s : s + step]
            block = x[r[0] : r[-1] + 1] if r[-1] - r[0] + 1 == r.size else x[r]
        d = block @ c.T
        d *= -2.0
        d += c_sq[None, :]
        j = d.argmin(axis=1)
        diff = block - c[j]  # the distance to the chosen center in difference form: its rounding
        dist[r] = np.einsum("ij,ij->i", diff, diff)  # is relative to the distance, not to the norms
        arg[r] = j
    return dist, arg


def _exact_min_sq_dist(xr: np.ndarray, centers: np.ndarray, c_sq: np.ndarray, eps: float) -> np.ndarray:
    """Float64 min_j ‖x_i − c_j‖² for a few float32 rows ``xr`` (m, d) against ``centers`` (M, d).

    A float32 pass (half the bytes and twice the SIMD width of float64) finds, per row, the
    centers within twice the float32 error bound ``eps`` · (‖x‖² + max ‖c‖²) of its float32
    minimum; the true nearest center is always among them, and only those are scored in
    float64, whose rounding (~1e-16 of the norms) is far below float32's and keeps integer-
    valued data exact, so exact ties stay ties.
    """
    if len(centers) <= 32:  # a few centers (a re-check of the newest ones): float64 directly
        diff = xr.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None, :, :]
        return np.einsum("ijk,ijk->ij", diff, diff).min(axis=1, initial=np.inf)
    m = len(xr)
    x_sq32 = np.einsum("ij,ij->i", xr, xr)
    tol = (2.0 * eps) * (x_sq32.astype(np.float64) + float(c_sq.max(initial=0.0)))
    run = np.full(m, np.inf)
    xt = np.ascontiguousarray(xr.T)
    rows, cols = [], []
    for s in range(0, len(centers), 8192):
        d = centers[s : s + 8192] @ xt  # (chunk, m): this orientation streams the centers once
        d *= -2.0
        d += x_sq32[None, :]
        d += c_sq[s : s + 8192, None]
        run = np.minimum(run, d.min(axis=0))
        c, r = np.nonzero(d <= (run + tol)[None, :])
        rows.append(r)
        cols.append(c + s)
    r, c = np.concatenate(rows), np.concatenate(cols)
    x64 = xr.astype(np.float64)
    c64 = centers[c].astype(np.float64)
    diff = x64[r] - c64
    exact = np.einsum("ij,ij->i", diff, diff)  # the difference form: no cancellation at all
    best = np.full(m, np.inf)
    np.minimum.at(best, r, exact)
    return best


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
    s = x[np.linspace(0, N - 1, min(sample, N)).astype(np.int64)]
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
        xb = x[order[starts[b] : starts[b + 1]]]
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
            self.min_d = nearest_center(self.x, self.x[idx])[0]  # the centers themselves: −1 below
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
        d = self.x[rows] @ c.T
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
    they are needed (not when ≤ 2,048 rows can be picked: those get exact distances anyway).

    The order equals a float64 brute-force greedy: the float32 arg-max is only a shortlist; all
    points within the float32 rounding bound of the maximum are re-scored exactly in float64
    against every center, and exact ties go to the lowest index. With no labeled point the
    first pick is uniform from ``rng``, or, without ``rng``, the point farthest from the mean.
    """
    x = _check_features(features)
    N, d = x.shape
    lab = np.unique(np.asarray(labeled if labeled is not None else [], dtype=np.int64))
    if lab.size and (lab[0] < 0 or lab[-1] >= N):
        raise ValueError(f"labeled indices must lie in [0, {N})")
    n = int(n)
    if not 0 <= n <= N - lab.size:
        raise ValueError(f"cannot pick n={n} from {N - lab.size} unlabeled points")
    if n == 0:
        return np.empty(0, np.int64)
    sqn = np.einsum("ij,ij->i", x, x)
    # float32 error allowance for ‖x‖² + ‖c‖² − 2 x·c, relative to the magnitudes involved:
    # blocked SIMD/FMA dot products err by ~√d·u·‖x‖‖c‖; 4× that with a floor leaves ample room
    eps = 4.0 * (2.0 * np.sqrt(d) + 16.0) * np.finfo(np.float32).eps
    max_sqn = float(sqn.max())
    prune = N >= 8192 if prune is None else prune
    first = None
    if lab.size == 0:
        if rng is not None:
            first = int(rng.integers(N))
        else:  # farthest from the mean, in row chunks (no N × d temporary)
            mu = x.mean(0)
            far = np.empty(N, np.float32)
            for s in range(0, N, _CHUNK):
                diff = x[s : s + _CHUNK] - mu
                far[s : s + _CHUNK] = np.einsum("ij,ij->i", diff, diff)
            first = int(np.argmax(far))
    if N - lab.size <= _DENSE:  # few rows can be picked: all their pairwise distances at once
        unl = np.setdiff1d(np.arange(N), lab)
        xu = np.ascontiguousarray(x[unl])
        return unl[_greedy_dense(xu, x[lab], sqn[unl], sqn[lab], n, first, eps, max_sqn)]

    def known() -> np.ndarray:  # the caller's distances to the labeled set
        return np.asarray((init() if callable(init) else init)[0])

    if lab.size > N // 4:
        # many labeled points: work on a compact copy of the unlabeled rows, the labeled ones as
        # external centers (each pick then touches only the rows that can still be picked)
        unl = np.setdiff1d(np.arange(N), lab)
        d0 = nearest_center(x, x[lab], unl)[0] if init is None else known()
        state = _MinDist(np.ascontiguousarray(x[unl]), sqn[unl], lab.size + n, prune, eps=eps)
        state.seed_external(x[lab], d0[unl])
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
    from types import SimpleNamespace

    U, L = len(xu), len(xl)
    state = SimpleNamespace(centers=np.empty((L + n, xu.shape[1]), np.float32),
                            c_sq=np.empty(L + n, np.float32), m=L)
    state.centers[:L] = xl
    state.c_sq[:L] = sql
    min_d = _exact_min_sq_dist(xu, xl, sql, eps) if L else np.full(U, np.inf)
    checked = {r: (v, L) for r, v in enumerate(min_d.tolist())}  # row → (exact over first m0 centers, m0)
    state.min_d = min_d
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
        picks[k] = j
        state.centers[state.m] = xu[j]
        state.c_sq[state.m] = squ[j]
        state.m += 1
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
            exact = _exact_rechecked(xu, cand, state, checked, eps)
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
            exact = _exact_rechecked(x, cand, state, checked, eps)
            best = int(cand[np.flatnonzero(exact == exact.max())[0]])
        else:
            best = int(cand[0])
        picks[k] = best
        state.add(best)
    return picks


def _exact_rechecked(x: np.ndarray, cand: np.ndarray, state: _MinDist, checked: dict[int, tuple[float, int]],
                     eps: float, prefetch: int = 16) -> np.ndarray:
    """Float64 min squared distance of rows ``cand`` to all ``state.m`` centers, reusing
    ``checked`` (row → (exact min over the first m0 centers, m0)) and updating it.

    A pass over all centers costs about the same for 1 row as for 16 (it streams the centers),
    so a pass for new rows also scores the ``prefetch`` farthest rows not yet checked: they are
    the likely candidates of the next picks.
    """
    m = state.m
    fresh = [int(r) for r in cand if int(r) not in checked]
    if fresh:
        k = min(prefetch + cand.size, state.min_d.size)
        top = np.argpartition(state.min_d, state.min_d.size - k)[-k:]
        extra = [int(r) for r in top if state.min_d[r] >= 0 and int(r) not in checked and int(r) not in set(fresh)]
        rows = np.array(fresh + extra[:prefetch], np.int64)
        exact = _exact_min_sq_dist(x[rows], state.centers[:m], state.c_sq[:m], eps)
        for r, v in zip(rows.tolist(), exact.tolist()):
            checked[r] = (v, m)
    since = np.array([checked[int(r)][1] for r in cand], np.int64)
    exact = np.array([checked[int(r)][0] for r in cand], np.float64)
    for lo in np.unique(since):  # one pass per group of rows last checked at the same m0
        if lo < m:
            g = np.flatnonzero(since == lo)
            exact[g] = np.minimum(exact[g], _exact_min_sq_dist(x[cand[g]], state.centers[lo:m], state.c_sq[lo:m], eps))
    for r, v in zip(cand.tolist(), exact.tolist()):
        checked[r] = (v, m)
    return exact


def kmeans_pp(embeddings: np.ndarray, n: int, rng: np.random.Generator, first: str = "random") -> np.ndarray:
    """k-means++ seeding (D² sampling): ``n`` distinct indices. (N, d) → (n,) in pick order.

    ``first`` is ``"random"`` (uniform, as in Arthur & Vassilvitskii) or ``"max_norm"``.
    When every remaining distance is 0 (duplicates), the rest are drawn uniformly.
    """
    x = _check_features(embeddings, "embeddings")
    sqn = np.einsum("ij,ij->i", x, x).astype(np.float64)

    cx = np.empty((max(int(n), 0), x.shape[1]), np.float32)  # the picked rows, in pick order
    c_sq = np.empty(max(int(n), 0))

    def add(k: int, j: int) -> None:
        cx[k], c_sq[k] = x[j], sqn[j]

    def dist(lo: int, hi: int, s: int, e: int) -> np.ndarray:
        out = (x[lo:hi] @ cx[s:e].T).astype(np.float64)
        out *= -2.0
        out += sqn[lo:hi, None]
        out += c_sq[None, s:e]
        return np.maximum(out, 0.0, out=out)

    return _kmeans_pp(len(x), sqn, add, dist, n, rng, first)


def kmeans_pp_factored(a: np.ndarray, x: np.ndarray, n: int, rng: np.random.Generator,
                       first: str = "max_norm") -> np.ndarray:
    """k-means++ seeding on g_i = a_i ⊗ x_i without building the (N, C·d) matrix.

    Uses ‖g_i − g_j‖² = ‖a_i‖²‖x_i‖² + ‖a_j‖²‖x_j‖² − 2 (a_i·a_j)(x_i·x_j): distances of a
    block of rows to some centers are two GEMMs, on ``a`` (N, C) and ``x`` (N, d). The default
    first center is the largest ‖g‖.
    """
    a = _check_features(a, "a")
    x = _check_features(x, "x")
    if len(a) != len(x):
        raise ValueError(f"a has {len(a)} rows but x has {len(x)}")
    a_sq = np.einsum("ij,ij->i", a, a).astype(np.float64)
    x_sq = np.einsum("ij,ij->i", x, x).astype(np.float64)
    g_sq = a_sq * x_sq

    ca = np.empty((max(int(n), 0), a.shape[1]), np.float32)  # the picked rows' factors, in order
    cx = np.empty((max(int(n), 0), x.shape[1]), np.float32)
    c_sq = np.empty(max(int(n), 0))

    def add(k: int, j: int) -> None:
        ca[k], cx[k], c_sq[k] = a[j], x[j], g_sq[j]

    def dist(lo: int, hi: int, s: int, e: int) -> np.ndarray:
        out = (a[lo:hi] @ ca[s:e].T).astype(np.float64)
        out *= x[lo:hi] @ cx[s:e].T
        out *= -2.0
        out += g_sq[lo:hi, None]
        out += c_sq[None, s:e]
        return np.maximum(out, 0.0, out=out)

    return _kmeans_pp(len(x), g_sq, add, dist, n, rng, first)


def _draw(cum: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> int:
    """Index i with probability ∝ weights[i] (> 0 somewhere), from their cumulative sums."""
    i = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(cum) - 1)
    if weights[i] <= 0.0:  # only on a rounding edge: the next item with weight
        ok = np.flatnonzero(weights > 0.0)
        i = int(ok[min(np.searchsorted(ok, i), ok.size - 1)])
    return i


def _kmeans_pp(N: int, sqn: np.ndarray, add, dist, n: int, rng: np.random.Generator,
               first: str) -> np.ndarray:
    """D² sampling, lazily: ``add(k, j)`` stores row j as center k, ``dist(lo, hi, s, e)`` →
    (hi − lo, e − s) squared distances of rows lo:hi to centers s:e.

    Every row keeps ``u``, its squared distance to the nearest center as of its block's last
    update: an upper bound on the current one, since centers only get added. A draw proposes
    a block ∝ its sum of ``u``, then a row ∝ ``u`` within it; if the block missed some centers
    the row's current distance is computed against the centers the block missed and the row
    is accepted with probability (current distance) / (proposed ``u``), else the draw is
    repeated with the tightened bounds. A rejection in a block that missed over 128 centers
    (its bounds are loose) brings the whole block up to date by GEMM, as does any proposal in
    one that missed over 2,048. This is rejection sampling with an envelope that only tightens,
    so every accepted row is drawn exactly ∝ its current D² (Arthur & Vassilvitskii), while a
    pick costs one row's distances and now and then a block update instead of a pass over all
    N rows. Rows already picked weigh 0; when all weights are 0 (duplicates, a fully confident
    model) the draw is uniform among the rest.
    """
    n = int(n)
    if not 0 <= n <= N:
        raise ValueError(f"cannot pick n={n} from {N} points")
    if first not in ("random", "max_norm"):
        raise ValueError(f"first must be 'random' or 'max_norm', got {first!r}")
    picks = np.empty(n, np.int64)
    if n == 0:
        return picks
    block = _KPP_BLOCK
    starts = np.arange(0, N + block, block).clip(max=N)
    starts = starts[: np.searchsorted(starts, N) + 1]
    nb = starts.size - 1
    taken = np.zeros(N, bool)
    j = int(rng.integers(N)) if first == "random" else int(np.argmax(sqn))
    picks[0], taken[j] = j, True
    add(0, j)
    u = np.empty(N)
    for b in range(nb):
        u[starts[b] : starts[b + 1]] = dist(int(starts[b]), int(starts[b + 1]), 0, 1)[:, 0]
    u[j] = 0.0
    seen = np.ones(nb, np.int64)  # centers each block is up to date with
    usum = np.add.reduceat(u, starts[:-1])

    def refresh(b: int, lo: int, hi: int, k: int) -> None:
        """Bring block b up to date with the first k centers, ≤ 512 centers a GEMM."""
        for s in range(int(seen[b]), k, 512):
            np.minimum(u[lo:hi], dist(lo, hi, s, min(s + 512, k)).min(axis=1), out=u[lo:hi])
        seen[b] = k

    for k in range(1, n):
        while True:
            if not usum.sum() > 0.0:  # every weight is 0: uniform among the rest
                free = np.flatnonzero(~taken)
                i = int(free[rng.integers(free.size)])
                b = int(np.searchsorted(starts, i, side="right")) - 1
                break
            b = _draw(np.cumsum(usum), usum, rng)
            lo, hi = int(starts[b]), int(starts[b + 1])
            ub = u[lo:hi]
            t = _draw(np.cumsum(ub), ub, rng)
            i, proposed = lo + t, float(ub[t])
            if seen[b] == k:  # up to date: the proposal is the D² draw itself
                break
            missed = k - int(seen[b])
            if missed <= _ROW_CHECK_MAX:  # the proposed row's distance to the centers it missed
                ub[t] = min(proposed, float(dist(i, i + 1, int(seen[b]), k).min()))
            else:
                refresh(b, lo, hi, k)
            accept = rng.random() * proposed < ub[t]
            if not accept and _LOOSE < missed <= _ROW_CHECK_MAX:  # rejected: the bounds are loose
                refresh(b, lo, hi, k)
            usum[b] = ub.sum()
            if accept:
                break
        picks[k], taken[i] = i, True
        add(k, i)
        u[i] = 0.0
        usum[b] = u[int(starts[b]) : int(starts[b + 1])].sum()
    return picks
