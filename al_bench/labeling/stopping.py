"""When to stop labeling: stabilizing predictions and a learning-curve forecast, as suggestions.

- **Stabilizing predictions** (:mod:`al_bench.stopping`; Bloodgood & Vijay-Shanker, CoNLL 2009): Cohen's κ between the
  predictions of successive models on a fixed *stop set* of images (at most ``STOP_SET`` of the
  project's images, drawn once from the project's seed). When κ has stayed at or above
  ``KAPPA`` (0.99) over the last ``WINDOW`` (3) rounds, new labels no longer change what the
  model says: the rule small-text ships as ``KappaAverage(kappa=0.99, window_size=3)``
  (the mean of the window's κ), reported as met or not.
- **A forecast** from the audit estimates (:mod:`.estimate`): the inverse power law
  acc(n) = a − b · n^(−c), the usual model of a learning curve (accuracy rises with labels and
  flattens towards a plateau a), fitted by weighted least squares (weights 1 / se², se from each
  estimate's interval; c on a grid, a and b in closed form for each c). Its interval is a
  parametric bootstrap: every estimate redrawn from a normal with its se, the curve refitted,
  ``REPS`` times. It answers what the next ``NEXT`` (100) labels buy and how many labels reach
  a target accuracy. Needs 3 rounds with estimates at different label counts.
- The suggestion (:func:`suggestion`) names each rule with its numbers and whether it is met:
  stop when predictions have stabilized, or when the forecast says the next 100 labels buy less
  than ``MIN_GAIN`` (1 point) with its upper bound below 2 points — only from ``MIN_ROUNDS`` (4)
  rounds with estimates, the latest with a standard error of at most ``MAX_SE`` (2 points): a
  few audited images give a flat, noisy curve whose bootstrap says "no gain" with false
  confidence. It is never acted on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stopping import KAPPA, STOP_SET, WINDOW, cohen_kappa, rule_met

__all__ = ["cohen_kappa", "fit_curve", "forecast", "suggestion", "KAPPA", "WINDOW", "STOP_SET", "NEXT", "MIN_GAIN",
           "REPS"]

NEXT = 100  # "what do the next NEXT labels buy"
MIN_GAIN = 0.01  # the forecast rule: the next NEXT labels buy less than this
# ... and only from estimates precise enough to see such a gain: the latest one's standard error at
# most this (with a few audited images a flat, noisy curve would otherwise "forecast" no gain)
MAX_SE = 0.02
MIN_ROUNDS = 4
REPS = 200  # bootstrap refits
_C_GRID = np.round(np.arange(0.05, 2.001, 0.05), 2)


def fit_curve(n: np.ndarray, acc: np.ndarray, se: np.ndarray) -> tuple[float, float, float]:
    """(a, b, c) of acc(n) = a − b · n^(−c) minimizing Σ (acc − curve)² / se², c on a grid;
    b ≥ 0 (accuracy does not fall with labels) and a ≤ 1."""
    n, acc = np.asarray(n, np.float64), np.asarray(acc, np.float64)
    w = 1.0 / np.maximum(np.asarray(se, np.float64), 1e-3) ** 2
    w = w / w.sum()
    z = n[:, None] ** -_C_GRID[None, :]  # (k, G): every c of the grid at once
    zm, am = w @ z, float(w @ acc)
    var = w @ (z - zm) ** 2
    cov = w @ ((z - zm) * (acc - am)[:, None])
    b = np.maximum(0.0, np.where(var > 0, -cov / np.where(var > 0, var, 1.0), 0.0))
    a = np.minimum(1.0, am + b * zm)
    loss = w @ (acc[:, None] - (a - b * z)) ** 2
    g = int(np.argmin(loss))  # the first of equal losses: the smallest c
    return float(a[g]), float(b[g]), float(_C_GRID[g])


def _curve(p: tuple[float, float, float], n: np.ndarray | float) -> np.ndarray:
    a, b, c = p
    return a - b * np.asarray(n, np.float64) ** -c


def _labels_to(p: tuple[float, float, float], target: float) -> float:
    """Labels at which the curve reaches ``target``: inf when its plateau stays below it."""
    a, b, c = p
    if a <= target:
        return float("inf")
    if b <= 0:
        return 0.0
    return float((b / (a - target)) ** (1.0 / c))


def forecast(n: np.ndarray, acc: np.ndarray, se: np.ndarray, rng: np.random.Generator,
             target: float | None = None, reps: int = REPS) -> dict[str, Any] | None:
    """The fitted curve and what it says, with 95 % bootstrap intervals (see the module): the
    plateau, the gain of the next ``NEXT`` labels, the curve over the next 2 × ``NEXT`` labels
    (for a plot), and with ``target`` the labels to reach it. None with fewer than 3 distinct
    label counts."""
    n, acc, se = (np.asarray(v, np.float64) for v in (n, acc, se))
    if np.unique(n).size < 3:
        return None
    last = float(n.max())
    p = fit_curve(n, acc, se)
    boots = [fit_curve(n, np.clip(acc + rng.normal(0, se), 0, 1), se) for _ in range(int(reps))]
    gains = np.array([_curve(q, last + NEXT) - _curve(q, last) for q in boots])
    grid = np.linspace(last, last + 2 * NEXT, 9)
    curves = np.array([_curve(q, grid) for q in boots])
    out = {"model": "acc(n) = a - b n^-c", "a": p[0], "b": p[1], "c": p[2], "n_last": last, "rounds": int(n.size),
           "last_se": float(se[int(np.argmax(n))]),
           # precise enough to see a MIN_GAIN gain (the forecast rule reads only such a forecast)
           "precise": bool(se[int(np.argmax(n))] <= MAX_SE and n.size >= MIN_ROUNDS),
           "plateau": p[0], "plateau_ci": [float(np.quantile([q[0] for q in boots], 0.025)),
                                           float(np.quantile([q[0] for q in boots], 0.975))],
           "next": NEXT, "next_gain": float(_curve(p, last + NEXT) - _curve(p, last)),
           "next_gain_ci": [float(np.quantile(gains, 0.025)), float(np.quantile(gains, 0.975))],
           "curve": {"n": grid.tolist(), "acc": _curve(p, grid).tolist(),
                     "lo": np.quantile(curves, 0.025, axis=0).tolist(), "hi": np.quantile(curves, 0.975, axis=0).tolist()}}
    if target is not None:
        need = np.array([_labels_to(q, float(target)) for q in boots])
        out["target"] = float(target)
        out["labels_to_target"] = _labels_to(p, float(target))
        # bootstrap curves whose plateau stays below the target need infinitely many: quantiles
        # that pick sample values (no interpolation between two infinities)
        out["labels_to_target_ci"] = [float(np.quantile(need, q, method="inverted_cdf")) for q in (0.025, 0.975)]
    return out


def suggestion(kappas: list[float | None], fc: dict[str, Any] | None) -> dict[str, Any]:
    """Whether to suggest stopping, and every rule with its numbers (see the module)."""
    rules = []
    window = [k for k in kappas[-WINDOW:] if k is not None]
    if len(window) == WINDOW:
        mean = float(np.mean(window))
        rules.append({"rule": f"stabilizing predictions: mean Cohen's kappa of the last {WINDOW} rounds' predictions on "
                              f"the stop set >= {KAPPA}", "value": mean, "met": rule_met(window, "kappa_mean")})
    else:
        rules.append({"rule": f"stabilizing predictions: needs {WINDOW} rounds with a kappa (have {len(window)})",
                      "value": None, "met": False})
    if fc is not None:
        lo, hi = fc["next_gain_ci"]
        precise = bool(fc.get("precise", fc["last_se"] <= MAX_SE and fc["rounds"] >= MIN_ROUNDS))
        why = "" if precise else (f"; not yet precise enough to tell: needs {MIN_ROUNDS} rounds with estimates and the "
                                  f"latest one's standard error <= {100 * MAX_SE:.0f} points (now {fc['rounds']} rounds, "
                                  f"{100 * fc['last_se']:.1f} points: audit more images)")
        rules.append({"rule": f"forecast: the next {fc['next']} labels buy less than {100 * MIN_GAIN:.0f} point "
                              f"(forecast {100 * fc['next_gain']:+.1f} points, 95 % interval {100 * lo:+.1f} to "
                              f"{100 * hi:+.1f}){why}", "value": fc["next_gain"],
                      "met": precise and fc["next_gain"] < MIN_GAIN and hi < 2 * MIN_GAIN})
    else:
        rules.append({"rule": "forecast: needs audit estimates at 3 label counts", "value": None, "met": False})
    met = [r["rule"] for r in rules if r["met"]]
    return {"stop": bool(met), "because": met, "rules": rules,
            "note": "a suggestion: labeling goes on until you stop it"}
