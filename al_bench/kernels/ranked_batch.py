"""Ranked batch-mode picks: one greedy pass trading uncertainty against diversity.

After Cardoso et al., "Ranked batch-mode active learning", Information Sciences 379 (2017), with
a fixed weight instead of their |U| / (|U| + |L|) and Euclidean distance instead of
1 − similarity. The classification strategy ``uncertainty_coreset`` runs it on predictive
entropy; the segmentation recipe ``ranked_batch`` on a segmentation model's per-image uncertainty.
"""

from __future__ import annotations

import numpy as np

from .checks import check_count, check_features, check_labeled_features
from .distances import _exact_min_sq_dist, farthest_from_mean

__all__ = ["ranked_batch"]

_ROWS = 4096  # candidate rows per distance pass: temporaries O(rows · d) whatever N is


def _sq_dist_to(x: np.ndarray, c: np.ndarray, out: np.ndarray) -> None:
    """out = min(out, ‖x_i − c‖²) in float64 difference form, ``_ROWS`` rows at a time."""
    c64 = c.astype(np.float64)
    for s in range(0, len(x), _ROWS):
        diff = x[s : s + _ROWS].astype(np.float64)
        diff -= c64
        np.minimum(out[s : s + _ROWS], np.einsum("ij,ij->i", diff, diff), out=out[s : s + _ROWS])


def ranked_batch(features: np.ndarray, uncertainty: np.ndarray, n: int, weight: float = 0.5,
                 labeled_features: np.ndarray | None = None) -> np.ndarray:
    """One greedy pass trading uncertainty against diversity. (N, d), (N,) → (n,) indices in pick order.

    At each step every remaining candidate i gets d_i, its Euclidean distance to the nearest
    labeled row or earlier pick, and the score (1 − weight) · d_i / max_j d_j + weight · u_i,
    with max_j over the remaining candidates and u the ``uncertainty`` min-max normalized over
    all candidates (all 0 when they are equal); the highest score is picked (ties: lowest index)
    and the distances are brought up to date against it (one pass over N rows per pick; memory
    O(N) besides the features). ``weight`` = 0 is greedy k-center, exactly the picks of
    :func:`al_bench.kernels.kcenter.kcenter_greedy` (rng=None); 1 is the top-n by uncertainty.

    With no labeled rows and no picks yet every d_i is infinite: the first pick is then the most
    uncertain candidate when weight > 0, and, when weight = 0, the candidate farthest from the
    features' mean (kcenter_greedy's rule without rng). Distances are exact float64 on the
    features as float32, as kcenter_greedy computes them.
    """
    x = check_features(features)
    N, d = x.shape
    u = np.asarray(uncertainty)
    if u.shape != (N,):
        raise ValueError(f"uncertainty must be (N,) = ({N},), one score per feature row, got shape {u.shape}")
    if u.dtype.kind not in "fiu":
        raise ValueError(f"uncertainty must hold real numbers, got dtype {u.dtype}")
    u = u.astype(np.float64)
    if not np.isfinite(u).all():
        raise ValueError(f"uncertainty contains NaN or infinite values (first at {int(np.argmax(~np.isfinite(u)))})")
    if isinstance(weight, bool) or not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"weight must lie in [0, 1] (0 = pure k-center, 1 = pure uncertainty), got {weight!r}")
    w = float(weight)
    n = check_count(n, N)
    lab = check_labeled_features(labeled_features, d)
    picks = np.empty(n, np.int64)
    if n == 0:
        return picks
    if w == 1.0:  # distances carry no weight: the most uncertain first, ties to the lowest index
        return np.argsort(-u, kind="stable")[:n].astype(np.int64)
    span = float(u.max() - u.min())
    un = (u - u.min()) / span if span > 0 else np.zeros(N)
    d2 = np.full(N, np.inf)  # squared distance to the nearest labeled row or pick; −inf once picked
    if lab is not None:  # exact float64 minimum over the labeled rows, in bounded slabs
        L = len(lab)
        lab_sq = np.einsum("ij,ij->i", lab, lab)
        eps = 4.0 * (2.0 * np.sqrt(d) + 16.0) * np.finfo(np.float32).eps  # kcenter_greedy's float32 allowance
        # ≤ 32 labeled rows: a (rows, L, d) float64 difference, ≤ 16 MB; more: a float32
        # (labeled chunk ≤ 8192, rows) slab, ≤ 32 MB, then float64 on the near-minimal pairs only
        step = max(1, (1 << 21) // (d * L) if L <= 32 else (1 << 23) // min(L, 8192))
        for s in range(0, N, step):
            d2[s : s + step] = _exact_min_sq_dist(x[s : s + step], lab, lab_sq, eps)
    start = 0
    if lab is None:  # every distance is infinite: the first pick by the rule in the docstring
        if w > 0:
            first = int(np.argmax(u))
        else:  # kcenter_greedy's own rule
            first = farthest_from_mean(x)
        picks[0], start = first, 1
        d2[first] = -np.inf
        _sq_dist_to(x, x[first], d2)
    score = np.empty(N)
    for k in range(start, n):
        if w == 0.0:
            # rank by the squared distance itself: the same order as the score, without the
            # rounding of the square root and the division merging distinct distances
            j = int(np.argmax(d2))
        else:
            np.sqrt(np.maximum(d2, 0.0), out=score)  # picked rows: 0 here, −inf below
            top = float(score.max())
            if top > 0:
                score /= top
            score *= 1.0 - w
            score += w * un
            score[d2 == -np.inf] = -np.inf
            j = int(np.argmax(score))
        picks[k] = j
        d2[j] = -np.inf
        _sq_dist_to(x, x[j], d2)  # −inf stays: min(−inf, ·) = −inf
    return picks
