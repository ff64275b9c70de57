"""The dataset as arrays: images, labels, stable ids; and the checks that turn raw arrays into one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .images import ImageFiles, Images

__all__ = ["ImageDataset"]


@dataclass(frozen=True)
class ImageDataset:
    """Images with labels. ``images``: (N, H, W, C) uint8 in memory, or :class:`ImageFiles`;
    ``labels`` (N,) int64 in [0, C)."""

    name: str
    images: Images
    labels: np.ndarray
    ids: np.ndarray  # (N,) str, stable sample ids
    class_names: tuple[str, ...]
    is_test: np.ndarray | None = None  # (N,) bool: the source's own test split, if it has one
    skipped: tuple[tuple[str, str], ...] = ()  # (id, reason) of items left out: missing, unreadable

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def fingerprint(self) -> str:
        """sha256 over images, labels and the test flags: what any cache must be keyed by.

        Images on disk enter by path, size and mtime (see :meth:`ImageFiles.fingerprint`).
        """
        h = hashlib.sha256()
        if isinstance(self.images, ImageFiles):
            h.update(b"files:" + self.images.fingerprint().encode())
        else:
            h.update(str(self.images.shape).encode())
            h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(self.labels.astype(np.int64).tobytes())
        if self.is_test is not None:
            h.update(self.is_test.astype(np.uint8).tobytes())
        return h.hexdigest()


def _to_uint8_images(images: np.ndarray, source: str) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) uint8, or numbers in [0, 1] or [0, 255] → (N, H, W, C) uint8."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise UserError(f"{source}: 'images' must be (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.number):
        raise UserError(f"{source}: 'images' must be numeric, got dtype {x.dtype}")
    xf = x.astype(np.float64)
    if not np.isfinite(xf).all():
        raise UserError(f"{source}: 'images' contains {int((~np.isfinite(xf)).sum())} NaN or infinite values")
    lo, hi = float(xf.min()), float(xf.max())
    if lo < 0.0 or hi > 255.0:
        raise UserError(f"{source}: numeric 'images' must lie in [0, 1] or [0, 255], got [{lo:g}, {hi:g}]")
    if hi <= 1.0:  # [0, 1] floats
        xf = xf * 255.0
    return np.rint(xf).astype(np.uint8)


def _encode_labels(labels: np.ndarray, source: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels of any kind (N,) → codes (N,) int64 into the sorted distinct values, and their names."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise UserError(f"{source}: 'labels' must be 1-D, got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise UserError(f"{source}: needs at least 2 classes, found {classes.size} ({classes.tolist()})")
    return codes.astype(np.int64), tuple(str(c) for c in classes.tolist())
