"""``object_frequency``: a diminishing count of confident objects per class, summed over classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...scores import check_fraction
from ..records import check_detections
from . import register


@register("object_frequency", needs={"objectness", "probs"},
          score="diminishing count of confident objects per class, summed over classes",
          param_ranges={"class_penalty": (0.0, 1.0), "min_score": (0.0, 1.0)})
def object_frequency(dets: Sequence[Mapping], class_penalty: float = 0.5,
                     min_score: float = 0.5) -> np.ndarray:
    """Diminishing count of confident objects per class, summed over classes. → (n_images,).

    A box is confident when objectness × max_c probs ≥ ``min_score``; its class is argmax_c probs.
    A class with n confident boxes contributes 1 + r + r² + … + r^(n−1), r = ``class_penalty``:
    r = 1 is a plain object count, r = 0 the number of distinct classes. Busy scenes with varied
    classes therefore rank highest.
    """
    r, t = check_fraction(class_penalty, "class_penalty"), check_fraction(min_score, "min_score")
    checked = check_detections(dets)
    scores = np.zeros(len(checked), np.float64)
    for i, d in enumerate(checked):
        if not len(d["boxes"]):
            continue
        confident = d["objectness"] * d["probs"].max(axis=1) >= t
        counts = np.bincount(d["probs"][confident].argmax(axis=1))
        scores[i] = sum(float(np.sum(r ** np.arange(n))) for n in counts)
    return scores
