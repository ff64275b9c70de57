"""Datasets as arrays, and the seeded stratified split into pool / test / calibration."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .images import ImageFiles, Images
from .rng import stream

log = logging.getLogger(__name__)

__all__ = ["ImageDataset", "Split", "load_digits", "load_npz", "make_split", "initial_labeled"]


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
    y = np.asarray(labels)
    if y.ndim != 1:
        raise UserError(f"{source}: 'labels' must be 1-D, got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise UserError(f"{source}: needs at least 2 classes, found {classes.size} ({classes.tolist()})")
    return codes.astype(np.int64), tuple(str(c) for c in classes.tolist())


def load_digits() -> ImageDataset:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), offline."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    ids = np.array([f"digits:{i:04d}" for i in range(len(images))])
    return ImageDataset("digits", images, d.target.astype(np.int64), ids, tuple(str(c) for c in range(10)))


def load_npz(path: str | Path | None = None) -> ImageDataset:
    """Arrays file with ``images``, ``labels`` and optional ``is_test``, ``class_names``, ``source``."""
    if not path:
        raise UserError("dataset=npz needs dataset.path=FILE (an .npz with 'images' and 'labels')")
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"dataset.path: no such file: {p.resolve()} (an .npz with 'images' and 'labels')")
    try:
        z = np.load(p, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # a corrupt or non-npz file
        raise UserError(f"dataset.path: cannot read {p} as .npz: {exc}") from exc
    missing = [k for k in ("images", "labels") if k not in arrays]
    if missing:
        raise UserError(f"{p}: missing array(s) {missing}; found {sorted(arrays)}")
    images = _to_uint8_images(arrays["images"], str(p))
    labels, names = _encode_labels(arrays["labels"], str(p))
    if len(images) != len(labels):
        raise UserError(f"{p}: {len(images)} images but {len(labels)} labels")
    if "class_names" in arrays:  # names indexed by the integer label values
        given = [str(s) for s in arrays["class_names"].tolist()]
        if all(n.isdigit() and int(n) < len(given) for n in names):
            names = tuple(given[int(n)] for n in names)
    is_test = None
    if "is_test" in arrays:
        is_test = np.asarray(arrays["is_test"]).astype(bool)
        if is_test.shape != labels.shape:
            raise UserError(f"{p}: 'is_test' has shape {is_test.shape}, expected {labels.shape}")
    if "source" in arrays and len(arrays["source"]) == len(labels):
        ids = np.asarray(arrays["source"]).astype(str)
    else:
        ids = np.array([f"{p.stem}:{i}" for i in range(len(labels))])
    if len(np.unique(ids)) != len(ids):
        ids = np.array([f"{p.stem}:{i}" for i in range(len(labels))])
    return ImageDataset(f"npz:{p.stem}", images, labels, ids, names, is_test)


@dataclass(frozen=True)
class Split:
    """Indices into the dataset, each sorted ascending and pairwise disjoint."""

    pool: np.ndarray
    test: np.ndarray
    calibration: np.ndarray

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for part in (self.pool, self.test, self.calibration):
            h.update(part.astype(np.int64).tobytes())
            h.update(b"|")
        return h.hexdigest()


def _stratified_take(idx: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """About ``fraction`` of ``idx`` from every class (rounded per class)."""
    taken = []
    for c in np.unique(labels[idx]):
        members = idx[labels[idx] == c]
        k = int(round(fraction * members.size))
        taken.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(taken)) if taken else np.empty(0, np.int64)


def make_split(
    labels: np.ndarray,
    seed: int,
    test_fraction: float = 0.2,
    calibration_fraction: float = 0.1,
    is_test: np.ndarray | None = None,
) -> Split:
    """Seeded stratified split; depends on the labels, the seed and the fractions only.

    With ``is_test`` the source's own test split is used as is and ``test_fraction`` is ignored.
    The calibration split (for temperature scaling) is ``calibration_fraction`` of the non-test
    items; it never enters the pool, so fitting the temperature does not spend labeling budget.
    """
    labels = np.asarray(labels)
    rng = stream(seed, "split")
    all_idx = np.arange(labels.size)
    if is_test is not None:
        test = all_idx[is_test]
        if test.size == 0:
            raise UserError("dataset: 'is_test' marks no items; drop it or mark the test items")
    else:
        test = _stratified_take(all_idx, labels, test_fraction, rng)
    rest = np.setdiff1d(all_idx, test)
    calibration = _stratified_take(rest, labels, calibration_fraction, rng) if calibration_fraction > 0 else rest[:0]
    pool = np.setdiff1d(rest, calibration)
    if pool.size == 0 or test.size == 0:
        raise UserError(f"split leaves {pool.size} pool and {test.size} test items; lower the fractions")
    return Split(pool.astype(np.int64), test.astype(np.int64), calibration.astype(np.int64))


def initial_labeled(pool_size: int, n_initial: int, seed: int) -> np.ndarray:
    """Positions (into the pool) of the initial labeled set: uniform, from the seed alone.

    Every strategy at a seed starts from this same set, which makes comparisons paired.
    """
    if not 0 < n_initial <= pool_size:
        raise UserError(f"budget.initial={n_initial} must be between 1 and the pool size {pool_size}")
    return np.sort(stream(seed, "initial").choice(pool_size, size=n_initial, replace=False)).astype(np.int64)


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
        raise UserError("dataset.near_duplicates needs images in memory (digits, npz, cifar10), not image files")
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
