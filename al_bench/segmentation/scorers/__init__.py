"""Per-pixel scorers of segmentation maps, and the per-image scores built on them.

A pixel scorer is registered by name (``--scorer`` with ``--task segmentation --predictions``,
a provider's ``pixel``): a function ``rows (P, C) → (P,)`` over the pixels' class probabilities,
or ``rows (K, P, C) → (P,)`` over K MC samples. It declares ``needs``: ``probs`` (one map; MC
samples are averaged first) or ``samples`` (MC samples only), ``score`` (what the number means)
and ``order`` (its place in listings). Everything else here is shared by every scorer:

- :func:`pixel_uncertainty`: one map (C, H, W) or MC samples (K, C, H, W) → (H, W), validated,
  errors naming the first bad pixel;
- :func:`reduce_map`: an (H, W) map → one number (``mean``, ``topk``, ``max``);
- :func:`segmentation_scores`: both, for every image, errors naming the image → (n_images,);
- :func:`segmentation_from_npz`: the per-image maps of an ``.npz`` keyed by id.

Higher = more informative. Per-pixel class uncertainties reuse :mod:`al_bench.scores`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ...registry import Registry
from ...scores import SUM_ATOL, check_choice, check_fraction, check_probs

__all__ = ["PIXEL_SCORERS", "register", "pixel_uncertainty", "reduce_map", "segmentation_scores",
           "segmentation_from_npz", "SEGMENTATION_SCORERS", "SEGMENTATION_METHODS", "SEGMENTATION_REDUCTIONS",
           "scorer_names"]

PIXEL_SCORERS: Registry = Registry("pixel scorer", package=__name__, key="--scorer",
                                   required=("needs", "score", "order"))
NEEDS = frozenset({"probs", "samples"})
SEGMENTATION_REDUCTIONS = ("mean", "topk", "max")


def register(name: str, *, needs: set[str] | frozenset[str], score: str, order: int, **meta: Any):
    """Register a pixel scorer under ``name`` (the ``--scorer`` value)."""
    if len(needs) != 1 or not set(needs) <= NEEDS:
        raise TypeError(f"pixel scorer {name!r}: needs one of {sorted(NEEDS)}, got {sorted(needs)}")
    return PIXEL_SCORERS.register(name, needs=frozenset(needs), score=score, order=int(order), **meta)


def scorer_names() -> tuple[str, ...]:
    """Every pixel scorer's name in its declared order (entropy, margin, least_confidence, bald)."""
    return tuple(e.name for e in sorted(PIXEL_SCORERS.entries(), key=lambda e: e.order))


def _pixel_rows(p: np.ndarray, name: str) -> np.ndarray:
    """(…, C, H, W) → validated float64 (…, H·W, C); a probability error names the first bad pixel."""
    *lead, C, H, W = p.shape
    if H == 0 or W == 0:
        raise ValueError(f"{name} has no pixels: shape {p.shape}")
    flat = np.moveaxis(p, -3, -1).reshape(*lead, H * W, C)
    try:
        return check_probs(flat, name=name, ndim=flat.ndim)
    except ValueError as e:
        if flat.dtype.kind not in "biuf" or C < 2:
            raise
        q = flat.astype(np.float64)  # find the pixel check_probs reported: same checks, same order
        for bad in (~np.isfinite(q).all(axis=-1), (q < 0).any(axis=-1), np.abs(q.sum(axis=-1) - 1.0) > SUM_ATOL):
            if bad.any():
                break
        first = np.argwhere(bad)[0]
        y, x = divmod(int(first[-1]), W)
        sample = f" of sample {int(first[0])}" if lead else ""
        raise ValueError(f"{e}; that is pixel (y={y}, x={x}){sample}") from None


def pixel_uncertainty(prob_map: np.ndarray, method: str = "entropy") -> np.ndarray:
    """Per-pixel uncertainty of a probability map. (C, H, W) → (H, W) float64.

    A scorer that needs ``probs`` (``entropy``, ``margin``, ``least_confidence``) takes a
    (C, H, W) map, or MC samples (K, C, H, W), in which case the score is that of the mean
    prediction over the K samples; one that needs ``samples`` (``bald``: mutual information)
    takes MC samples (K, C, H, W) only.
    """
    names = scorer_names()
    check_choice(method, names, "method")
    entry = PIXEL_SCORERS.entry(method)
    p = np.asarray(prob_map)
    if "samples" in entry.needs and p.ndim != 4:
        raise ValueError(f"method {method!r} needs MC samples of shape (K, C, H, W), got shape {p.shape}")
    if p.ndim not in (3, 4):
        raise ValueError(f"prob_map must have shape (C, H, W) or (K, C, H, W), got shape {p.shape}")
    H, W = p.shape[-2:]
    rows = _pixel_rows(p, "prob_map")
    if "samples" in entry.needs:
        u = entry.obj(rows)
    else:
        u = entry.obj(rows.mean(axis=0) if p.ndim == 4 else rows)
    return u.reshape(H, W)


def reduce_map(u: np.ndarray, reduce: str = "mean", topk_fraction: float = 0.1) -> float:
    """One number from an uncertainty map: ``mean``, ``max``, or ``topk`` = the mean of the
    ceil(topk_fraction × n_pixels) largest values (at least one pixel), topk_fraction in (0, 1]."""
    check_choice(reduce, SEGMENTATION_REDUCTIONS, "reduce")
    topk_fraction = check_fraction(topk_fraction, "topk_fraction", open_at_0=True)
    v = np.asarray(u, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("uncertainty map is empty")
    if not np.isfinite(v).all():
        first = int(np.argmax(~np.isfinite(v)))
        raise ValueError(f"uncertainty map contains NaN or infinite values (first at flat index {first})")
    if reduce == "mean":
        return float(v.mean())
    if reduce == "max":
        return float(v.max())
    k = max(1, math.ceil(topk_fraction * v.size - 1e-9))  # 0.1 × 30 is 3.0000000000000004 in floats
    return float(np.partition(v, v.size - k)[v.size - k:].mean())


def segmentation_scores(maps: Sequence[np.ndarray], method: str = "entropy", reduce: str = "mean",
                        topk_fraction: float = 0.1) -> np.ndarray:
    """Score each image's map with :func:`pixel_uncertainty` then :func:`reduce_map`.

    maps: sequence of (C, H, W) maps or (K, C, H, W) samples; H, W (and K) may differ between
    images. → (n_images,) float64. Errors name the image.
    """
    check_choice(method, scorer_names(), "method")
    reduce_map(np.zeros(1), reduce, topk_fraction)  # validate the options even for no images
    out = np.empty(len(maps), np.float64)
    for i, m in enumerate(maps):
        try:
            out[i] = reduce_map(pixel_uncertainty(m, method), reduce, topk_fraction)
        except ValueError as e:
            raise ValueError(f"image {i}: {e}") from None
    return out


def segmentation_from_npz(path: str | os.PathLike) -> tuple[list[str], list[np.ndarray]]:
    """Read per-image maps from an ``.npz`` whose keys are the image ids, e.g. written by
    ``np.savez(path, **{id: prob_map})``; arrays are (C, H, W) or (K, C, H, W).

    Any string works as a key, "/" included ("a/b.png" is stored as zip member "a/b.png.npy" and
    read back as "a/b.png"). Returns (ids, maps) in stored order; maps keep their dtype. Pickled
    (object) arrays are refused.
    """
    with np.load(path, allow_pickle=False) as z:
        ids = list(z.files)
        if len(set(ids)) != len(ids):
            raise ValueError(f"{os.fspath(path)}: duplicate ids {sorted({k for k in ids if ids.count(k) > 1})}")
        maps = []
        for k in ids:
            try:
                m = z[k]
            except ValueError as e:
                raise ValueError(f"{os.fspath(path)}, id {k!r}: cannot read array ({e})") from None
            if m.ndim not in (3, 4):
                raise ValueError(f"{os.fspath(path)}, id {k!r}: need shape (C, H, W) or (K, C, H, W), "
                                 f"got shape {m.shape}")
            maps.append(m)
    return ids, maps


SEGMENTATION_METHODS: tuple[str, ...] = scorer_names()  # the pixel scorers' names, in order
# image-level scorers under their earlier names (pixel_entropy, …): one per pixel scorer
SEGMENTATION_SCORERS: dict[str, Callable[..., np.ndarray]] = {
    f"pixel_{m}": partial(segmentation_scores, method=m) for m in SEGMENTATION_METHODS
}
