"""Per-image informativeness scores for object detection and segmentation, higher = more
informative, and reading a task's predictions file: the one place that names both tasks.

The scorers live with their task — :mod:`al_bench.detection` (``DETECTION_SCORERS``, one module
per scorer) and :mod:`al_bench.segmentation.scorers` (``PIXEL_SCORERS``, per-pixel scorers reduced
per image) — and every name is re-exported here, where earlier code imports them from.

Every scorer returns float64 of shape (n_images,) and validates its input first, raising
``ValueError`` that names the image (by position, and by id where known), the box or pixel, and
the problem. Detection: one mapping per image with ``boxes`` (B, 4) as x1, y1, x2, y2,
``objectness`` (B,) in [0, 1] and ``probs`` (B, C); B may be 0, and such an image scores 0 under
every scorer. Segmentation: one probability map (C, H, W) per image, or MC-dropout samples
(K, C, H, W). Images and records are numbered from 0; JSON Lines parse errors give 1-based line
numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .detection import (
    DETECTION_KEYS,
    DETECTION_REDUCTIONS,
    DETECTION_SCORERS,
    box_uncertainty,
    check_detections,
    detections_from_json,
    object_frequency,
    objectness_least_confidence,
)
from .errors import UserError
from .segmentation.scorers import (
    PIXEL_SCORERS,
    SEGMENTATION_METHODS,
    SEGMENTATION_REDUCTIONS,
    SEGMENTATION_SCORERS,
    pixel_uncertainty,
    reduce_map,
    segmentation_from_npz,
    segmentation_scores,
)

__all__ = [
    "check_detections", "object_frequency", "objectness_least_confidence", "box_uncertainty",
    "detections_from_json", "DETECTION_SCORERS", "DETECTION_REDUCTIONS", "DETECTION_KEYS",
    "pixel_uncertainty", "reduce_map", "segmentation_scores", "segmentation_from_npz",
    "SEGMENTATION_SCORERS", "SEGMENTATION_METHODS", "SEGMENTATION_REDUCTIONS", "PIXEL_SCORERS",
    "read_task_scores",
]

TASKS = ("detection", "segmentation")


def read_task_scores(path: Path, task: str, scorer: str, options: Mapping[str, Any],
                     what: str = "--predictions", scorer_what: str = "--scorer") -> tuple[list[str], np.ndarray]:
    """(ids, one score per image (N, 1)) from a detection (JSON Lines) or segmentation (.npz)
    predictions file, scored by ``scorer`` (a detection scorer, or a segmentation pixel scorer
    reduced per image by ``options``). Every problem is a :class:`UserError` keyed by ``what``
    and the file (or by ``scorer_what`` for an unknown scorer)."""
    from .picking.inputs import check_numpy_file

    try:
        if task == "detection":
            fn = DETECTION_SCORERS.get(scorer)
            if fn is None:
                raise UserError(f"detection scorers are {sorted(DETECTION_SCORERS)}", key=f"{scorer_what} {scorer!r}")
            ids, dets = detections_from_json(path)
            values = fn(dets, **options)
        else:
            if scorer not in SEGMENTATION_METHODS:
                raise UserError(f"segmentation scorers are {list(SEGMENTATION_METHODS)}",
                                key=f"{scorer_what} {scorer!r}")
            check_numpy_file(path, f"{what} {path}")
            ids, maps = segmentation_from_npz(path)
            values = segmentation_scores(maps, method=scorer, **options)
    except (ValueError, TypeError, OSError) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(str(exc), key=f"{what} {path} ({task}, {scorer_what} {scorer})") from None
    return list(ids), np.asarray(values, np.float64)[:, None]
