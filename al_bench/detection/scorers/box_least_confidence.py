"""``box_least_confidence``: 1 − each box's largest class probability,
reduced over the image's boxes (``max``, ``mean`` or ``sum``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import DETECTION_REDUCTIONS, register
from ._boxes import box_uncertainty


@register("box_least_confidence", needs={"boxes", "probs"},
          score="class least confidence 1 − max p of the boxes, reduced over the boxes",
          param_choices={"reduce": DETECTION_REDUCTIONS})
def box_least_confidence(dets: Sequence[Mapping], reduce: str = "max") -> np.ndarray:
    """:func:`~al_bench.detection.scorers._boxes.box_uncertainty` with ``least_confidence``. → (n_images,)"""
    return box_uncertainty(dets, "least_confidence", reduce)
