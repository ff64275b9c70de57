"""Near-duplicate injection: a stress test for batch selection, and the id scheme that names copies."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import UserError
from ..rng import stream
from .dataset import ImageDataset
from .split import Split

log = logging.getLogger(__name__)

__all__ = ["DUPLICATE_MARK", "inject_near_duplicates", "duplicate_group"]

DUPLICATE_MARK = "#dup"  # ids of injected near-duplicates: "<source id>#dup<k>"


def inject_near_duplicates(ds: ImageDataset, split: Split, fraction: float, copies: int, noise: float,
                           seed: int) -> tuple[ImageDataset, Split]:
    """Add ``copies`` near-duplicates of a seeded ``fraction`` of the pool's items to the pool.

    Each copy is its source image plus Gaussian pixel noise (std ``noise`` grey levels, clipped
    to 0..255), so embeddings are close but not identical, as with burst photos or re-uploads.
    Copies keep the source's label, join the pool only (test and calibration are untouched) and
    are named ``<source id>#dup<k>``. A stress test for batch selection: top-k uncertainty tends
    to buy a source and all its copies in one batch.
    """
    if fraction <= 0 or copies <= 0:
        return ds, split
    if not isinstance(ds.images, np.ndarray):
        raise UserError("{near_duplicates} needs images in memory (digits, npz, cifar10), not image files",
                        refs={"near_duplicates": "dataset.near_duplicates"})
    rng = stream(seed, "near_duplicates")
    k = max(1, int(round(fraction * len(split.pool))))
    sources = np.sort(rng.choice(split.pool, size=k, replace=False))
    src = np.repeat(sources, copies)
    jitter = rng.normal(0.0, noise, size=(len(src), *ds.images.shape[1:]))
    extra = np.clip(np.rint(ds.images[src].astype(np.float64) + jitter), 0, 255).astype(np.uint8)
    n = len(ds.labels)
    ids = np.array([f"{ds.ids[i]}{DUPLICATE_MARK}{j + 1}" for i in sources for j in range(copies)])
    out = ImageDataset(ds.name, np.concatenate([ds.images, extra]), np.concatenate([ds.labels, ds.labels[src]]),
                       np.concatenate([ds.ids.astype(str), ids]), ds.class_names,
                       None if ds.is_test is None else np.concatenate([ds.is_test, np.zeros(len(src), bool)]),
                       ds.skipped)
    pool = np.concatenate([split.pool, np.arange(n, n + len(src))])
    log.info("near-duplicates: %d copies each of %d pool items (noise std %.1f) added to the pool: %d -> %d",
             copies, k, noise, len(split.pool), len(pool))
    return out, Split(pool.astype(np.int64), split.test, split.calibration)


def duplicate_group(ids) -> np.ndarray:
    """The source id of each id (itself for originals): items sharing a group are near-duplicates."""
    return np.array([str(i).split(DUPLICATE_MARK, 1)[0] for i in ids])
