"""The dataset as arrays: images, labels, stable ids; and the checks that turn raw arrays into one."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .images import ImageFiles, Images

log = logging.getLogger(__name__)

__all__ = ["ImageDataset", "PIXEL_RANGES"]


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


PIXEL_RANGES = ("auto", "0-1", "0-255")
# Values may stray this far outside their range (as a fraction of it) and are clipped: bicubic
# resampling overshoots a sharp edge by up to ~0.11 (torch/OpenCV, a = -0.75; PIL ~0.07).
OVERSHOOT = 0.2
# ``auto`` reads numbers as [0, 255] only when at least this share of them exceeds this level: one
# stray pixel can never flip a [0, 1] dataset to [0, 255] (nor the other way round), and
# standardized (mean/std) arrays, within a few units of 0, are not taken for grey levels.
_BRIGHT, _BRIGHT_SHARE = 10.0, 0.01


def _pixel_range(x: np.ndarray, pixel_range: str, source: str) -> float:
    """The top of the range (1 or 255) the numbers ``x`` (float64) are in; see :func:`_to_uint8_images`."""
    lo, hi = float(x.min()), float(x.max())
    span = f"[{lo:g}, {hi:g}]"
    if pixel_range != "auto":
        top = 1.0 if pixel_range == "0-1" else 255.0
        if lo < -OVERSHOOT * top or hi > (1 + OVERSHOOT) * top:
            other = "0-255" if top == 1.0 else "0-1"
            raise UserError(f"{source}: 'images' span {span}, beyond {pixel_range} by more than the resampling "
                            f"tolerance ({OVERSHOOT:g} of the range); rescale or clip the data, or set "
                            f"{{pixel_range}}={other}", key="dataset.pixel_range",
                            refs={"pixel_range": "dataset.pixel_range"})
        if top == 255.0 and hi <= 1.0 + OVERSHOOT:
            log.warning("%s: pixel_range=0-255 but every value is at most %g: the images will be near black "
                        "(dataset.pixel_range=0-1 reads them as [0, 1])", source, hi)
        return top
    if lo >= -OVERSHOOT and hi <= 1.0 + OVERSHOOT:
        return 1.0
    bright = np.count_nonzero(x > _BRIGHT) / x.size
    if bright >= _BRIGHT_SHARE and lo >= -OVERSHOOT * 255 and hi <= (1 + OVERSHOOT) * 255:
        return 255.0
    raise UserError(f"{source}: cannot tell the pixel range of 'images' spanning {span} ({bright:.2%} of values "
                    f"above {_BRIGHT:g}): neither [0, 1] nor [0, 255] within the resampling tolerance "
                    f"({OVERSHOOT:g} of the range); set {{pixel_range}}=0-1 or 0-255, or rescale the data",
                    key="dataset.pixel_range", refs={"pixel_range": "dataset.pixel_range"})


def _to_uint8_images(images: np.ndarray, source: str, pixel_range: str = "auto") -> np.ndarray:
    """(N, H, W) or (N, H, W, C) numbers → (N, H, W, C) uint8.

    uint8 arrays are kept as they are (unless ``pixel_range="0-1"``). Other numbers are in
    [0, 1] or [0, 255], as ``pixel_range`` says (``"0-1"``, ``"0-255"``) or, with ``"auto"``:
    [0, 1] when every value lies in [-0.2, 1.2]; [0, 255] when at least 1 % of the values
    exceed 10 and all lie in [-51, 306]; anything else is a :class:`UserError` naming
    ``dataset.pixel_range``. Values up to ``OVERSHOOT`` (0.2) of the range outside it are
    resampling overshoot and are clipped; further out is an error.
    """
    if pixel_range not in PIXEL_RANGES:
        raise UserError(f"{pixel_range!r}: choose one of {list(PIXEL_RANGES)}", key="dataset.pixel_range")
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise UserError(f"{source}: 'images' must be (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if x.dtype == np.uint8 and pixel_range != "0-1":
        return x  # byte for byte: results on uint8 data never depend on this function
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise UserError(f"{source}: 'images' must be numeric, got dtype {x.dtype}")
    if x.size == 0:
        return x.astype(np.uint8)
    xf = x.astype(np.float64)
    if not np.isfinite(xf).all():
        raise UserError(f"{source}: 'images' contains {int((~np.isfinite(xf)).sum())} NaN or infinite values")
    top = _pixel_range(xf, pixel_range, source)
    outside = np.count_nonzero((xf < 0.0) | (xf > top))
    if outside:
        log.info("%s: %d value(s) outside [0, %g] clipped (resampling overshoot)", source, outside, top)
        np.clip(xf, 0.0, top, out=xf)
    if top == 1.0:  # [0, 1] numbers
        xf *= 255.0
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
