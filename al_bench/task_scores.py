"""Per-image informativeness scores for object detection and segmentation, higher = more informative.

Every scorer returns float64 of shape (n_images,) and validates its input first, raising
``ValueError`` that names the image (by position, and by id where known), the box or pixel, and
the problem. Per-box and per-pixel class uncertainties reuse :mod:`al_bench.scores`.

Detection: one mapping per image with ``boxes`` (B, 4) as x1, y1, x2, y2, ``objectness`` (B,) in
[0, 1] and ``probs`` (B, C); B may be 0, and such an image scores 0 under every scorer.
Segmentation: one probability map (C, H, W) per image, or MC-dropout samples (K, C, H, W).
Images and records are numbered from 0; JSON Lines parse errors give 1-based line numbers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np

from .scores import _SUM_ATOL, bald, check_probs, entropy, least_confidence, margin

__all__ = [
    "check_detections", "object_frequency", "objectness_least_confidence", "box_uncertainty",
    "detections_from_json", "DETECTION_SCORERS", "DETECTION_REDUCTIONS",
    "pixel_uncertainty", "reduce_map", "segmentation_scores", "segmentation_from_npz",
    "SEGMENTATION_SCORERS", "SEGMENTATION_METHODS", "SEGMENTATION_REDUCTIONS",
]

DETECTION_KEYS = ("boxes", "objectness", "probs")
DETECTION_REDUCTIONS = ("max", "mean", "sum")
SEGMENTATION_METHODS = ("entropy", "margin", "least_confidence", "bald")
SEGMENTATION_REDUCTIONS = ("mean", "topk", "max")
_CLASS_SCORES = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def _fraction(value: float, name: str, open_at_0: bool = False) -> float:
    """A real number in [0, 1] (or (0, 1]), or ValueError."""
    interval = "(0, 1]" if open_at_0 else "[0, 1]"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    if not (0.0 < value <= 1.0 if open_at_0 else 0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


# ---------------------------------------------------------------- object detection


def _image_name(i: int, d: object) -> str:
    return f"image {i} (id {d['id']!r})" if isinstance(d, Mapping) and "id" in d else f"image {i}"


def _numeric(x: object, where: str, key: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {key} is not a numeric array ({e})") from None
    return a


def check_detections(dets: Sequence[Mapping]) -> list[dict[str, np.ndarray]]:
    """Validate per-image detections and return them as float64 arrays.

    Parameters
    ----------
    dets : sequence of mappings, one per image, each with ``boxes`` (B, 4) as x1, y1, x2, y2
        (x2 ≥ x1, y2 ≥ y1), ``objectness`` (B,) in [0, 1] and ``probs`` (B, C) with rows summing
        to 1. B may differ between images and may be 0 (empty lists are fine); C must be the same
        in every image that has boxes. An optional ``id`` key is used in error messages only.

    Returns
    -------
    list of dict with keys ``boxes`` (B, 4), ``objectness`` (B,), ``probs`` (B, C) float64.
    For an image with no boxes, ``probs`` has shape (0, C') where C' is whatever was given, or 0.
    """
    if isinstance(dets, Mapping) or not isinstance(dets, Sequence):
        raise ValueError(f"dets must be a sequence of per-image mappings, got {type(dets).__name__}")
    out, n_classes = [], None
    for i, d in enumerate(dets):
        where = _image_name(i, d)
        if not isinstance(d, Mapping):
            raise ValueError(f"{where} must be a mapping with keys {DETECTION_KEYS}, got {type(d).__name__}")
        missing = [k for k in DETECTION_KEYS if k not in d]
        if missing:
            raise ValueError(f"{where} is missing key(s) {missing}")
        boxes = _numeric(d["boxes"], where, "boxes")
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"{where}: boxes must have shape (B, 4), got shape {boxes.shape}")
        B = len(boxes)
        bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bad.any():
            b = int(np.argmax(bad))
            raise ValueError(f"{where}, box {b}: need finite x1, y1, x2, y2 with x2 >= x1 and y2 >= y1, "
                             f"got {boxes[b].tolist()}")
        obj = _numeric(d["objectness"], where, "objectness")
        if B == 0 and obj.size == 0:
            obj = obj.reshape(0)
        if obj.shape != (B,):
            raise ValueError(f"{where}: objectness must have shape ({B},) to match the boxes, got {obj.shape}")
        bad = ~((obj >= 0) & (obj <= 1))
        if bad.any():
            b = int(np.argmax(bad))
            raise ValueError(f"{where}, box {b}: objectness must be in [0, 1], got {obj[b]}")
        if B == 0:
            p = _numeric(d["probs"], where, "probs")
            if p.size:
                raise ValueError(f"{where}: no boxes but probs has shape {p.shape}")
            probs = p.reshape(0, p.shape[1] if p.ndim == 2 else 0)
        else:
            try:
                raw = np.asarray(d["probs"])
            except (ValueError, TypeError) as e:
                raise ValueError(f"{where}: probs is not a numeric array ({e})") from None
            probs = check_probs(raw, name=f"{where}: probs (one row per box)")
            if len(probs) != B:
                raise ValueError(f"{where}: probs has {len(probs)} rows but there are {B} boxes")
            if n_classes is not None and probs.shape[1] != n_classes[0]:
                raise ValueError(f"{where}: probs has {probs.shape[1]} classes but {n_classes[1]} "
                                 f"has {n_classes[0]}")
            n_classes = n_classes or (probs.shape[1], where)
        out.append({"boxes": boxes, "objectness": obj, "probs": probs})
    return out


def _reduce_boxes(dets: list[dict[str, np.ndarray]], per_box: Callable, reduce: str) -> np.ndarray:
    fn = {"max": np.max, "mean": np.mean, "sum": np.sum}[_choice(reduce, DETECTION_REDUCTIONS, "reduce")]
    return np.array([fn(per_box(d)) if len(d["boxes"]) else 0.0 for d in dets], dtype=np.float64)


def object_frequency(dets: Sequence[Mapping], class_penalty: float = 0.5,
                     min_score: float = 0.5) -> np.ndarray:
    """Diminishing count of confident objects per class, summed over classes. → (n_images,).

    A box is confident when objectness × max_c probs ≥ ``min_score``; its class is argmax_c probs.
    A class with n confident boxes contributes 1 + r + r² + … + r^(n−1), r = ``class_penalty``:
    r = 1 is a plain object count, r = 0 the number of distinct classes. Busy scenes with varied
    classes therefore rank highest.
    """
    r, t = _fraction(class_penalty, "class_penalty"), _fraction(min_score, "min_score")
    checked = check_detections(dets)
    scores = np.zeros(len(checked), np.float64)
    for i, d in enumerate(checked):
        if not len(d["boxes"]):
            continue
        confident = d["objectness"] * d["probs"].max(axis=1) >= t
        counts = np.bincount(d["probs"][confident].argmax(axis=1))
        scores[i] = sum(float(np.sum(r ** np.arange(n))) for n in counts)
    return scores


def objectness_least_confidence(dets: Sequence[Mapping], reduce: str = "max") -> np.ndarray:
    """Binary least confidence of each box's objectness o, u = 1 − max(o, 1 − o), reduced over the
    boxes with ``max``, ``mean`` or ``sum``. → (n_images,)."""
    def per_box(d: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - np.maximum(d["objectness"], 1.0 - d["objectness"])

    return _reduce_boxes(check_detections(dets), per_box, reduce)


def box_uncertainty(dets: Sequence[Mapping], method: str = "entropy", reduce: str = "max") -> np.ndarray:
    """Per-box class uncertainty (``entropy``, ``margin`` or ``least_confidence`` of probs (B, C)),
    reduced over the boxes with ``max``, ``mean`` or ``sum``. → (n_images,)."""
    fn = _CLASS_SCORES[_choice(method, tuple(_CLASS_SCORES), "method")]
    return _reduce_boxes(check_detections(dets), lambda d: fn(d["probs"]), reduce)


DETECTION_SCORERS: dict[str, Callable[..., np.ndarray]] = {
    "object_frequency": object_frequency,
    "objectness_least_confidence": objectness_least_confidence,
    "box_entropy": partial(box_uncertainty, method="entropy"),
    "box_margin": partial(box_uncertainty, method="margin"),
    "box_least_confidence": partial(box_uncertainty, method="least_confidence"),
}


def _read_json_records(path: str | os.PathLike) -> list:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{os.fspath(path)}: invalid JSON ({e})") from None
    records = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{os.fspath(path)}, line {line_no}: invalid JSON ({e})") from None
    return records


def detections_from_json(path_or_records: str | os.PathLike | Sequence[Mapping]
                         ) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Read detections from a JSON Lines file, a JSON file holding a list, or already-parsed records.

    Each record is ``{"id": str, "boxes": [[x1, y1, x2, y2], ...], "objectness": [...],
    "probs": [[...], ...]}``; extra keys are ignored. Returns (ids, dets) in file order, with
    dets validated by :func:`check_detections`. Duplicate ids are an error that lists them.
    """
    if isinstance(path_or_records, (str, os.PathLike)):
        records = _read_json_records(path_or_records)
    else:
        records = path_or_records
    if isinstance(records, Mapping) or not isinstance(records, Sequence):
        raise ValueError(f"expected a list of detection records, got {type(records).__name__}")
    ids, seen = [], {}
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise ValueError(f"record {i} must be a JSON object, got {type(rec).__name__}")
        name = f"record {i}" + (f" (id {rec['id']!r})" if "id" in rec else "")
        missing = [k for k in ("id", *DETECTION_KEYS) if k not in rec]
        if missing:
            raise ValueError(f"{name} is missing key(s) {missing}")
        if not isinstance(rec["id"], str):
            raise ValueError(f"{name}: id must be a string, got {type(rec['id']).__name__}")
        ids.append(rec["id"])
        seen.setdefault(rec["id"], []).append(i)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    if dups:
        raise ValueError("duplicate ids: " + "; ".join(f"{k!r} at records {v}" for k, v in dups.items()))
    return ids, check_detections(list(records))


# ---------------------------------------------------------------- segmentation


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
        for bad in (~np.isfinite(q).all(axis=-1), (q < 0).any(axis=-1), np.abs(q.sum(axis=-1) - 1.0) > _SUM_ATOL):
            if bad.any():
                break
        first = np.argwhere(bad)[0]
        y, x = divmod(int(first[-1]), W)
        sample = f" of sample {int(first[0])}" if lead else ""
        raise ValueError(f"{e}; that is pixel (y={y}, x={x}){sample}") from None


def pixel_uncertainty(prob_map: np.ndarray, method: str = "entropy") -> np.ndarray:
    """Per-pixel uncertainty of a probability map. (C, H, W) → (H, W) float64.

    ``entropy``, ``margin``, ``least_confidence``: from a (C, H, W) map, or from MC samples
    (K, C, H, W), in which case the score is that of the mean prediction over the K samples.
    ``bald``: mutual information from MC samples (K, C, H, W) only.
    """
    _choice(method, SEGMENTATION_METHODS, "method")
    p = np.asarray(prob_map)
    if method == "bald" and p.ndim != 4:
        raise ValueError(f"method 'bald' needs MC samples of shape (K, C, H, W), got shape {p.shape}")
    if p.ndim not in (3, 4):
        raise ValueError(f"prob_map must have shape (C, H, W) or (K, C, H, W), got shape {p.shape}")
    H, W = p.shape[-2:]
    rows = _pixel_rows(p, "prob_map")
    if method == "bald":
        u = bald(rows)
    else:
        u = _CLASS_SCORES[method](rows.mean(axis=0) if p.ndim == 4 else rows)
    return u.reshape(H, W)


def reduce_map(u: np.ndarray, reduce: str = "mean", topk_fraction: float = 0.1) -> float:
    """One number from an uncertainty map: ``mean``, ``max``, or ``topk`` = the mean of the
    ceil(topk_fraction × n_pixels) largest values (at least one pixel), topk_fraction in (0, 1]."""
    _choice(reduce, SEGMENTATION_REDUCTIONS, "reduce")
    topk_fraction = _fraction(topk_fraction, "topk_fraction", open_at_0=True)
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
    _choice(method, SEGMENTATION_METHODS, "method")
    reduce_map(np.zeros(1), reduce, topk_fraction)  # validate the options even for no images
    out = np.empty(len(maps), np.float64)
    for i, m in enumerate(maps):
        try:
            out[i] = reduce_map(pixel_uncertainty(m, method), reduce, topk_fraction)
        except ValueError as e:
            raise ValueError(f"image {i}: {e}") from None
    return out


SEGMENTATION_SCORERS: dict[str, Callable[..., np.ndarray]] = {
    f"pixel_{m}": partial(segmentation_scores, method=m) for m in SEGMENTATION_METHODS
}


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
