"""Detection scorers: one module each, registered by name (``--scorer`` with ``--task detection``).

A scorer is a function ``(dets, **options) → (n_images,) float64``, higher = more informative,
``dets`` being the images' detections (:mod:`al_bench.detection.records`); it validates them
(:func:`~al_bench.detection.records.check_detections`) and scores an image without boxes 0. It
declares, when registering:

- ``needs``: which detection fields it reads — ``boxes``, ``objectness``, ``probs``;
- ``score``: what its number means;
- optionally ``param_ranges={"min_score": (0.0, 1.0)}``: the closed range of a numeric option,
  and ``param_choices={"reduce": ("max", "mean", "sum")}``: the values of a word option (the
  scorer checks its options itself, raising ``ValueError``; these say what they are).

Its keyword parameters with defaults are its ``--scorer-param`` options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...registry import Registry
from ...scores import check_choice

__all__ = ["DETECTION_SCORERS", "DETECTION_REDUCTIONS", "NEEDS", "register", "reduce_boxes"]

DETECTION_SCORERS: Registry = Registry("detection scorer", package=__name__, key="--scorer",
                                       required=("needs", "score"))
NEEDS = frozenset({"boxes", "objectness", "probs"})
DETECTION_REDUCTIONS = ("max", "mean", "sum")


def register(name: str, *, needs: set[str] | frozenset[str], score: str,
             param_ranges: dict[str, tuple[float, float]] | None = None,
             param_choices: dict[str, tuple[str, ...]] | None = None, **meta: Any):
    """Register a detection scorer under ``name`` (its ``--scorer`` value)."""
    bad = set(needs) - NEEDS
    if bad:
        raise TypeError(f"detection scorer {name!r}: unknown needs {sorted(bad)}; choose from {sorted(NEEDS)}")
    return DETECTION_SCORERS.register(name, needs=frozenset(needs), score=score, param_ranges=dict(param_ranges or {}),
                                      param_choices={k: tuple(v) for k, v in (param_choices or {}).items()}, **meta)


def reduce_boxes(dets: list[dict[str, np.ndarray]], per_box: Callable[[dict], np.ndarray], reduce: str) -> np.ndarray:
    """Per-box scores ``per_box(image) → (B,)`` reduced per image by ``max``, ``mean`` or ``sum``;
    0 for an image without boxes. Checked dets → (n_images,) float64."""
    fn = {"max": np.max, "mean": np.mean, "sum": np.sum}[check_choice(reduce, DETECTION_REDUCTIONS, "reduce")]
    return np.array([fn(per_box(d)) if len(d["boxes"]) else 0.0 for d in dets], dtype=np.float64)
