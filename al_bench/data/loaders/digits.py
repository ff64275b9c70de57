"""``dataset=digits``: scikit-learn's bundled 8×8 handwritten digits, offline."""

from __future__ import annotations

import numpy as np

from ..dataset import ImageDataset
from . import DATASETS

__all__ = ["load_digits"]


@DATASETS.register("digits")
def load_digits() -> ImageDataset:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), offline."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    ids = np.array([f"digits:{i:04d}" for i in range(len(images))])
    return ImageDataset("digits", images, d.target.astype(np.int64), ids, tuple(str(c) for c in range(10)))
