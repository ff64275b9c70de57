"""Stabilizing predictions (Bloodgood & Vijay-Shanker, CoNLL 2009), shared by the simulation and
the labeling project: Cohen's κ between successive models' predicted classes on a fixed *stop
set* of pool items, and the stop rules read from the sequence of κ.

- ``kappa_mean``: the mean κ of the last ``WINDOW`` (3) models reaches ``KAPPA`` (0.99), as
  small-text's ``KappaAverage(kappa=0.99, window_size=3)``;
- ``kappa_all``: each of the last ``WINDOW`` κ reaches ``KAPPA`` (every one of three successive
  comparisons, the stricter reading of Bloodgood & Vijay-Shanker's rule).

The stop set is at most ``STOP_SET`` (1,000) items drawn once from the seed's stream
``stop set``; in the simulation it is drawn from the pool and κ compares the models of
successive budget points (``curve.csv``'s ``stop_kappa``; ``tables/stopping.csv``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cohen_kappa", "stop_set", "rule_met", "RULES", "KAPPA", "WINDOW", "STOP_SET"]

KAPPA, WINDOW = 0.99, 3
STOP_SET = 1000
RULES = ("kappa_mean", "kappa_all")


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_classes: int) -> float:
    """Cohen's κ of two label vectors: (p_o − p_e) / (1 − p_e); 1 when both give one class only."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    p_o = float((a == b).mean())
    p_e = float(np.dot(np.bincount(a, minlength=n_classes), np.bincount(b, minlength=n_classes))) / a.size ** 2
    return 1.0 if p_e >= 1.0 else (p_o - p_e) / (1.0 - p_e)


def stop_set(n_items: int, seed: int, size: int = STOP_SET) -> np.ndarray:
    """The stop set: at most ``size`` of ``n_items`` positions, ascending, from stream(seed, "stop set")."""
    from .rng import stream

    return np.sort(stream(int(seed), "stop set").permutation(int(n_items))[: int(size)])


def rule_met(kappas, rule: str) -> bool:
    """Whether ``rule`` (:data:`RULES`) holds on a κ sequence (oldest first; None/NaN: no κ yet)."""
    window = [float(k) for k in list(kappas)[-WINDOW:] if k is not None and np.isfinite(k)]
    if len(window) < WINDOW:
        return False
    if rule == "kappa_mean":
        return float(np.mean(window)) >= KAPPA
    if rule == "kappa_all":
        return min(window) >= KAPPA
    raise ValueError(f"unknown stop rule {rule!r}; choose one of {RULES}")
