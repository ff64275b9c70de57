"""Segmentation selection recipes on per-image arrays: ``alges``, ``alges_coreset``, ``uncertainty_coreset``.

Each takes one row per candidate image and returns indices into those rows, in pick order;
labeled images come in separately (``labeled_features``), never as candidates.

- :func:`select_alges`: k-means++ (D²) seeding on ALGES embeddings
  (:mod:`al_bench.segmentation.alges`), first the largest embedding, as BADGE does.
- :func:`select_alges_coreset`: ALGES shortlists ``candidate_factor`` × n images, then greedy
  k-center on their feature vectors picks n of them, seeded by the labeled images.
- :func:`uncertainty_coreset`: one greedy pass that re-scores every remaining candidate after
  each pick by (1 − weight) × its distance to the nearest labeled image or earlier pick (over the
  current largest such distance) + weight × its min-max normalized uncertainty, after Cardoso et
  al., "Ranked batch-mode active learning", Information Sciences 379 (2017), with a fixed weight
  instead of their |U| / (|U| + |L|) and Euclidean distance instead of 1 − similarity.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.distances import _check_features, _exact_min_sq_dist, farthest_from_mean
from ..kernels.kcenter import kcenter_greedy
from ..kernels.kmeanspp import kmeans_pp

__all__ = ["select_alges", "select_alges_coreset", "uncertainty_coreset"]

_ROWS = 4096  # candidate rows per distance pass: temporaries O(rows · d) whatever N is


def _count(n, N: int, what: str = "candidates") -> int:
    """``n`` as an int in [0, N], or ValueError."""
    if isinstance(n, bool) or int(n) != n:
        raise ValueError(f"n must be an integer, got {n!r}")
    n = int(n)
    if not 0 <= n <= N:
        raise ValueError(f"cannot pick n={n} from {N} {what}")
    return n


def _labeled(labeled_features, d: int) -> np.ndarray | None:
    """Labeled rows as float32 (L, d), or None when there are none."""
    if labeled_features is None:
        return None
    lab = np.asarray(labeled_features)
    if lab.ndim != 2 or (lab.size and lab.shape[1] != d):
        raise ValueError(f"labeled_features must be (L, {d}) like the candidates' features, got shape {lab.shape}")
    if len(lab) == 0:
        return None
    return _check_features(lab, "labeled_features")


def select_alges(embeddings: np.ndarray, n: int, rng: np.random.Generator, first: str = "max_norm") -> np.ndarray:
    """``n`` distinct candidate indices by k-means++ (D²) seeding on ALGES embeddings. (N, E) → (n,).

    ``first``: ``"max_norm"`` (the largest embedding, as BADGE) or ``"random"``. Indices in pick
    order; when every remaining distance is 0 the rest are drawn uniformly.
    """
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, E), one ALGES embedding per candidate image, got shape {x.shape}")
    n = _count(n, len(x))
    if first not in ("max_norm", "random"):
        raise ValueError(f"first must be 'max_norm' or 'random', got {first!r}")
    return kmeans_pp(x, n, rng, first=first)


def select_alges_coreset(embeddings: np.ndarray, features: np.ndarray, n: int, rng: np.random.Generator,
                         candidate_factor: float = 4, labeled_features: np.ndarray | None = None) -> np.ndarray:
    """ALGES shortlist, then k-center on features. (N, E), (N, d) → (n,) candidate indices in pick order.

    :func:`select_alges` picks min(N, max(n, ⌈candidate_factor · n⌉)) candidates; greedy k-center
    (:func:`al_bench.kernels.kcenter.kcenter_greedy`) on their ``features`` (the images'
    feature-model embeddings), seeded by ``labeled_features`` (L, d), picks n of them. With no
    labeled rows its first pick is uniform among the shortlist from ``rng``, as in the
    ``kcenter`` and ``hybrid`` strategies.
    """
    emb = np.asarray(embeddings)
    f = np.asarray(features)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be (N, E), got shape {emb.shape}")
    if f.ndim != 2 or len(f) != len(emb):
        raise ValueError(f"features must be (N, d) with one row per embedding (N = {len(emb)}), got shape {f.shape}")
    N = len(emb)
    n = _count(n, N)
    if not candidate_factor >= 1:
        raise ValueError(f"candidate_factor must be >= 1, got {candidate_factor!r}")
    lab = _labeled(labeled_features, f.shape[1])
    m = min(N, max(n, math.ceil(candidate_factor * n)))
    cand = select_alges(emb, m, rng)
    fc = _check_features(f[cand])
    if lab is None:
        return cand[kcenter_greedy(fc, None, n, rng)]
    L = len(lab)
    rows = np.concatenate([lab, fc])  # [labeled; shortlist], seeded by the labeled rows
    return cand[kcenter_greedy(rows, np.arange(L), n, rng) - L]


def _sq_dist_to(x: np.ndarray, c: np.ndarray, out: np.ndarray) -> None:
    """out = min(out, ‖x_i − c‖²) in float64 difference form, ``_ROWS`` rows at a time."""
    c64 = c.astype(np.float64)
    for s in range(0, len(x), _ROWS):
        diff = x[s : s + _ROWS].astype(np.float64)
        diff -= c64
        np.minimum(out[s : s + _ROWS], np.einsum("ij,ij->i", diff, diff), out=out[s : s + _ROWS])


def uncertainty_coreset(features: np.ndarray, uncertainty: np.ndarray, n: int, weight: float = 0.5,
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
    x = _check_features(features)
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
    n = _count(n, N)
    lab = _labeled(labeled_features, d)
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
