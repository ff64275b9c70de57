"""``box_margin``: 1 − (p₁ − p₂) of each box's two largest class probabilities,
reduced over the image's boxes (``max``, ``mean`` or ``sum``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import DETECTION_REDUCTIONS, register
from ._boxes import box_uncertainty


@register("box_margin", needs={"boxes", "probs"},
          score="class margin 1 − (p₁ − p₂) of the boxes, reduced over the boxes",
          param_choices={"reduce": DETECTION_REDUCTIONS})
def box_margin(dets: Sequence[Mapping], reduce: str = "max") -> np.ndarray:
    """:func:`~al_bench.detection.scorers._boxes.box_uncertainty` with ``margin``. → (n_images,)"""
    return box_uncertainty(dets, "margin", reduce)
