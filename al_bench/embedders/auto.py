"""``embedder=auto``: not an embedder but a choice of one — DINOv2 where its weights load, else offline ones."""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from ..data.images import Images
from ..errors import UserError
from . import EMBEDDERS
from .weights import DINOV2, weights_file

log = logging.getLogger(__name__)

__all__ = ["resolve_auto", "TINY"]

TINY = 16  # images at most this many pixels on a side (digits: 8) get `pixels`
_WARNED: set[str] = set()


@EMBEDDERS.register("auto", fitted=False, resolves=True)
def resolve_auto(images: Images, options: Mapping[str, Any], *, image_size: int = 224, weights: str | None = None,
                 batch_size: int = 64, device: str = "auto") -> tuple[str, dict]:
    """(name, options) of the embedder ``auto`` means here: ``dinov2_vits14`` when its weights
    can be loaded, else ``kmeans_patches`` (``pixels`` for tiny images).

    Called as ``resolve_auto(images, options, **options)``: the keywords are ``auto``'s options
    (those of dinov2_vits14); ``options`` as given go on to dinov2_vits14 unchanged, so it
    shares cache entries with ``embedder=dinov2_vits14`` given the same options.
    """
    if isinstance(images, np.ndarray) and max(images.shape[1:3]) <= TINY:
        log.warning("embedder auto: chose pixels (images are %dx%d, too small for DINOv2 or patch features)",
                    images.shape[1], images.shape[2])
        return "pixels", {}
    try:
        weights_file(DINOV2, weights)
    except UserError as exc:
        if weights:  # a weights file the user named must load: no silent fallback
            raise
        msg = ("embedder auto: DINOv2 is not available (%s). FALLING BACK to kmeans_patches, an offline "
               "label-free embedder: expect much lower accuracy than DINOv2 features")
        # loud once per process (a sweep's log), then one quiet line per run
        log.log(logging.WARNING if str(exc) not in _WARNED else logging.INFO, msg, exc)
        _WARNED.add(str(exc))
        return "kmeans_patches", {}
    log.info("embedder auto: chose dinov2_vits14")
    return "dinov2_vits14", dict(options)
