"""Checks of a kernel's inputs, public so that callers above the kernels (the segmentation
recipes) check their arrays the same way the kernels do, with the same messages."""

from __future__ import annotations

import numpy as np

from .distances import _check_features

__all__ = ["check_features", "check_count", "check_labeled_features"]


def check_features(features: np.ndarray, name: str = "features") -> np.ndarray:
    """``features`` as a C-contiguous float32 (N, d) array; NaN or inf raises ValueError naming
    the first bad row."""
    return _check_features(features, name)


def check_count(n, N: int, what: str = "candidates") -> int:
    """``n`` as an int in [0, N] (how many to pick from N ``what``), or ValueError."""
    if isinstance(n, bool) or int(n) != n:
        raise ValueError(f"n must be an integer, got {n!r}")
    n = int(n)
    if not 0 <= n <= N:
        raise ValueError(f"cannot pick n={n} from {N} {what}")
    return n


def check_labeled_features(labeled_features, d: int) -> np.ndarray | None:
    """Labeled rows as float32 (L, d), checked like the candidates' features; None when there
    are none (None or zero rows)."""
    if labeled_features is None:
        return None
    lab = np.asarray(labeled_features)
    if lab.ndim != 2 or (lab.size and lab.shape[1] != d):
        raise ValueError(f"labeled_features must be (L, {d}) like the candidates' features, got shape {lab.shape}")
    if len(lab) == 0:
        return None
    return _check_features(lab, "labeled_features")
