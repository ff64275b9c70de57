"""The shared body of ``box_entropy``, ``box_margin`` and ``box_least_confidence``: each box's
class uncertainty (:mod:`al_bench.scores` on its probs), reduced over the image's boxes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ... import scores
from ..records import check_detections
from . import check_choice, reduce_boxes

__all__ = ["box_uncertainty", "BOX_METHODS"]

BOX_METHODS = {"entropy": scores.entropy, "margin": scores.margin, "least_confidence": scores.least_confidence}


def box_uncertainty(dets: Sequence[Mapping], method: str = "entropy", reduce: str = "max") -> np.ndarray:
    """Per-box class uncertainty (``entropy``, ``margin`` or ``least_confidence`` of probs (B, C)),
    reduced over the boxes with ``max``, ``mean`` or ``sum``. → (n_images,)."""
    fn = BOX_METHODS[check_choice(method, tuple(BOX_METHODS), "method")]
    return reduce_boxes(check_detections(dets), lambda d: fn(d["probs"]), reduce)
