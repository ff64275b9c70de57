"""``embedder=dinov2_vits14``: frozen DINOv2 ViT-S/14, 384-d CLS features."""

from __future__ import annotations

import numpy as np

from ..data.images import Images
from . import EMBEDDERS
from .weights import DINOV2, timm_features, timm_key

__all__ = ["dinov2_vits14"]


def _key(options: dict) -> dict:
    return timm_key({**options, "model": DINOV2})


@EMBEDDERS.register("dinov2_vits14", fitted=False, code=("al_bench.embedders.weights",), key_info=_key)
def dinov2_vits14(images: Images, fit_idx: np.ndarray, seed: int, image_size: int = 224,
                  weights: str | None = None, batch_size: int = 64, device: str = "auto") -> np.ndarray:
    """DINOv2 ViT-S/14 (timm ``vit_small_patch14_dinov2.lvd142m``), 384-d CLS features."""
    return timm_features(images, DINOV2, image_size, weights, batch_size, device)
