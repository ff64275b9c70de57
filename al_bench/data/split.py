"""The seeded stratified split into pool / test / calibration, and the initial labeled set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..rng import stream

__all__ = ["Split", "make_split", "initial_labeled"]


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
            raise UserError("'is_test' marks no items; drop it or mark the test items", key="dataset")
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
        raise UserError(f"{{initial}}={n_initial} must be between 1 and the pool size {pool_size}",
                        refs={"initial": "budget.initial"})
    return np.sort(stream(seed, "initial").choice(pool_size, size=n_initial, replace=False)).astype(np.int64)
