"""``embedder=timm``: any frozen timm network, its pooled features."""

from __future__ import annotations

import numpy as np

from ..data.images import Images
from . import EMBEDDERS
from .weights import DINOV2, timm_features, timm_key

__all__ = ["timm_embedder"]


@EMBEDDERS.register("timm", fitted=False, code=("al_bench.embedders.weights",), key_info=timm_key)
def timm_embedder(images: Images, fit_idx: np.ndarray, seed: int, model: str = DINOV2, image_size: int = 224,
                  weights: str | None = None, batch_size: int = 64, device: str = "auto") -> np.ndarray:
    """Any timm model, frozen, pooled features (``num_classes=0``)."""
    return timm_features(images, model, image_size, weights, batch_size, device)
