"""``box_entropy``: the entropy of each box's class probabilities,
reduced over the image's boxes (``max``, ``mean`` or ``sum``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import DETECTION_REDUCTIONS, register
from ._boxes import box_uncertainty


@register("box_entropy", needs={"boxes", "probs"},
          score="class entropy of the boxes (nats), reduced over the boxes",
          param_choices={"reduce": DETECTION_REDUCTIONS})
def box_entropy(dets: Sequence[Mapping], reduce: str = "max") -> np.ndarray:
    """:func:`~al_bench.detection.scorers._boxes.box_uncertainty` with ``entropy``. → (n_images,)"""
    return box_uncertainty(dets, "entropy", reduce)
