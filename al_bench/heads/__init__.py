"""Heads: the models the loop trains each round, registered by name (``model=<name>``).

Every head implements :class:`Head` — fit, logits, calibrated probabilities, MC-dropout
samples, BALD, per-point dropout passes on the last layer's inputs, last-layer gradient
factors and a temperature — so strategies ask for
capabilities and never check what a head is. A head module registers its class with
``settings`` (a dataclass of its options, read from ``al_bench/conf/model/<name>.yaml`` and checked by
:func:`al_bench.options.parse`) and ``inputs``: ``"features"`` (the frozen embeddings) or
``"images"`` (the images themselves, resized to ``settings.image_size``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..registry import Registry
from ._common import HeadBase, dropout_masks, gradient_factors, point_dropout_proba, residual, softmax, with_bias
from .calibration import expected_calibration_error, fit_temperature, nll

__all__ = ["HEADS", "Head", "HeadBase", "build_head", "softmax", "residual", "with_bias", "gradient_factors",
           "dropout_masks", "point_dropout_proba", "fit_temperature", "expected_calibration_error", "nll"]

HEADS: Registry = Registry("model", package=__name__, key="model", required=("settings", "inputs"))


@runtime_checkable
class Head(Protocol):
    """What the loop and the strategies use of a model. Shapes: x (N, …) inputs, C classes."""

    temperature: float

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Head": ...  # from the initial weights again

    def logits(self, x: np.ndarray) -> np.ndarray: ...  # (N, C) float64, no temperature

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...  # (N, C), temperature-scaled

    def sample_proba(self, x: np.ndarray, k: int, seed: int) -> np.ndarray: ...  # (K, N, C) MC dropout

    def bald_scores(self, x: np.ndarray, k: int, seed: int, rows: np.ndarray | None = None) -> np.ndarray: ...

    # (M, N, C): M passes with dropout at ``rate`` on the last layer's inputs, a fresh mask per point and pass
    def feature_dropout_proba(self, x: np.ndarray, m: int, rate: float, seed: int) -> np.ndarray: ...

    def gradient_factors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...  # (N, C), (N, F+1)


def build_head(name: str, settings, n_features: int, n_classes: int, seed: int) -> Head:
    """A fresh head ``name`` with ``settings`` (an instance of its settings class)."""
    return HEADS[name](n_features, n_classes, settings, seed)
