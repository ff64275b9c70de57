"""Detections as al_bench reads them: one mapping per image with ``boxes`` (B, 4) as x1, y1, x2, y2,
``objectness`` (B,) in [0, 1] and ``probs`` (B, C); B may be 0. :func:`check_detections` validates
them (errors name the image by position, and by id where known, the box and the problem);
:func:`detections_from_json` reads them from JSON Lines (errors give 1-based line numbers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..scores import check_probs

__all__ = ["DETECTION_KEYS", "check_detections", "detections_from_json"]

DETECTION_KEYS = ("boxes", "objectness", "probs")


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
