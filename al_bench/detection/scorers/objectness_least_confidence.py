"""``objectness_least_confidence``: how unsure the detector is that each box is an object at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..records import check_detections
from . import DETECTION_REDUCTIONS, reduce_boxes, register


@register("objectness_least_confidence", needs={"boxes", "objectness"},
          score="binary least confidence of the boxes' objectness, reduced over the boxes",
          param_choices={"reduce": DETECTION_REDUCTIONS})
def objectness_least_confidence(dets: Sequence[Mapping], reduce: str = "max") -> np.ndarray:
    """Binary least confidence of each box's objectness o, u = 1 − max(o, 1 − o), reduced over the
    boxes with ``max``, ``mean`` or ``sum``. → (n_images,)."""
    def per_box(d: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - np.maximum(d["objectness"], 1.0 - d["objectness"])

    return reduce_boxes(check_detections(dets), per_box, reduce)
