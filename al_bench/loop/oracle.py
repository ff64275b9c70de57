"""The model oracle: what strategies ask about the current head, fitted at most once per
labeled set and temperature-scaled on the calibration split."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..heads import Head, expected_calibration_error, fit_temperature
from ..rng import torch_seed

__all__ = ["ModelOracle", "evaluate", "class_metrics", "thin_test_classes", "THIN_TEST_CLASS"]

THIN_TEST_CLASS = 10  # fewer test items than this in a class: its recall moves in steps of 10+ points

# (n_features, n_classes, seed) → a fresh head
HeadFactory = Callable[[int, int, int], Head]


class ModelOracle:
    """The head for the current labeled set (the ``ModelAccess`` strategies see through a
    :class:`~al_bench.strategies.PoolView`), refitted only when the labeled set changed.

    ``x_pool`` rows are what the head sees (embeddings, or images for an end-to-end model).
    Counts the seconds spent fitting and calibrating, and whether a strategy asked for outputs
    (the loop then fits the next head outside the timed selection block).

    ``make_selection_head`` (default ``make_head``) builds the heads fitted between budget
    points, which only choose the next batch (e.g. with fewer optimizer steps); a head for
    evaluation (``current(evaluation=True)``) always comes from ``make_head``, and serves the
    selection on the same labeled set too.
    """

    def __init__(self, x_pool: np.ndarray, y_pool: np.ndarray, x_cal: np.ndarray, y_cal: np.ndarray,
                 n_classes: int, make_head: HeadFactory, seed: int, temperature_scaling: bool = True,
                 make_selection_head: HeadFactory | None = None) -> None:
        self.x_pool, self.y_pool, self.x_cal, self.y_cal = x_pool, y_pool, x_cal, y_cal
        self.n_classes, self.make_head, self.seed = n_classes, make_head, seed
        self.make_selection_head = make_selection_head or make_head
        self.evaluation_head = False  # whether self.head came from make_head
        self.temperature_scaling = temperature_scaling
        self.labeled: np.ndarray | None = None
        self.weights: np.ndarray | None = None
        self.key: bytes | None = None
        self.head: Head | None = None
        self.fit_seconds = 0.0
        self.calibration_seconds = 0.0
        self.asked = False  # whether a strategy asked for model outputs since the last reset

    def update(self, labeled: np.ndarray, weights: np.ndarray | None = None) -> None:
        """The labeled set (pool positions); ``weights`` (one per item, same order) weight the
        head's loss, e.g. :func:`al_bench.loop.lure.lure_weights`."""
        order = np.argsort(labeled, kind="stable")
        self.labeled = np.asarray(labeled)[order]
        self.weights = None if weights is None else np.asarray(weights, np.float64)[order]

    def current(self, evaluation: bool = False) -> Head:
        """The head fitted (and calibrated) on the current labeled set: an evaluation head when
        ``evaluation`` (or when one is already there for this set), else a selection head."""
        key = self.labeled.tobytes() + (b"" if self.weights is None else self.weights.tobytes())
        if key != self.key or (evaluation and not self.evaluation_head):
            t0 = time.perf_counter()
            make = self.make_head if evaluation else self.make_selection_head
            head = make(self.x_pool.shape[1], self.n_classes, torch_seed(self.seed, "head"))
            if self.weights is None:
                head.fit(self.x_pool[self.labeled], self.y_pool[self.labeled])
            else:
                head.fit(self.x_pool[self.labeled], self.y_pool[self.labeled], sample_weight=self.weights)
            t1 = time.perf_counter()
            if self.temperature_scaling and len(self.y_cal):
                head.temperature = fit_temperature(head.logits(self.x_cal), self.y_cal)
            self.fit_seconds += t1 - t0
            self.calibration_seconds += time.perf_counter() - t1
            self.head, self.key = head, key
            self.evaluation_head = evaluation or self.make_selection_head is self.make_head
        return self.head

    # -- ModelAccess, for strategies --------------------------------------------------------
    def probs(self, positions: np.ndarray) -> np.ndarray:
        self.asked = True
        return self.current().predict_proba(self.x_pool[positions])

    def mc_probs(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        self.asked = True
        return self.current().sample_proba(self.x_pool[positions], k, seed)

    def mc_probs_inputs(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        self.asked = True
        return self.current().sample_proba(x, k, seed)

    def bald_scores(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        self.asked = True
        return self.current().bald_scores(self.x_pool, k, seed, rows=positions)

    def feature_dropout_probs(self, positions: np.ndarray, m: int, rate: float, seed: int) -> np.ndarray:
        self.asked = True
        return self.current().feature_dropout_proba(self.x_pool[positions], m, rate, seed)

    def gradient_factors(self, positions: np.ndarray):
        self.asked = True
        return self.current().gradient_factors(self.x_pool[positions])

    # -- bookkeeping ------------------------------------------------------------------------
    def model_seconds(self) -> float:
        return self.fit_seconds + self.calibration_seconds

    def state(self) -> dict:
        return {"train_seconds": self.fit_seconds, "calibration_seconds": self.calibration_seconds,
                "asked": self.asked}

    def restore(self, meta: dict) -> None:
        self.fit_seconds, self.calibration_seconds = meta["train_seconds"], meta["calibration_seconds"]
        self.asked = meta["asked"]


def evaluate(head: Head, x_test: np.ndarray, y_test: np.ndarray, bins: int,
             class_names: tuple[str, ...] | None = None) -> dict:
    """Accuracy, ECE (calibrated and at temperature 1) and the temperature on the test split;
    with ``class_names``, also the per-class metrics of :func:`class_metrics`."""
    probs = head.predict_proba(x_test)
    t = head.temperature
    head.temperature = 1.0
    raw = head.predict_proba(x_test)
    head.temperature = t
    pred = probs.argmax(axis=1)
    out = {
        "accuracy": float((pred == y_test).mean()),
        "ece": expected_calibration_error(probs, y_test, bins),
        "ece_uncalibrated": expected_calibration_error(raw, y_test, bins),
        "temperature": float(t),
    }
    if class_names is not None:
        out.update(class_metrics(pred, y_test, class_names))
    return out


def class_metrics(pred: np.ndarray, y: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """``balanced_accuracy`` (mean recall over the classes the test split holds), ``macro_f1``
    (mean F1 = 2·TP / (2·TP + FP + FN) over those classes; 0 for a class never predicted
    right), ``worst_class_recall`` and ``recall_<class>`` for every class (NaN for a class the
    test split does not hold). Counts only: no randomness, no float sums that depend on order."""
    c = len(class_names)
    y, pred = np.asarray(y, np.int64), np.asarray(pred, np.int64)
    support = np.bincount(y, minlength=c)
    predicted = np.bincount(pred, minlength=c)
    tp = np.bincount(y[pred == y], minlength=c)
    held = support > 0
    recall = np.full(c, np.nan)
    recall[held] = tp[held] / support[held]
    f1 = 2 * tp[held] / (2 * tp[held] + (predicted[held] - tp[held]) + (support[held] - tp[held]))
    out = {"balanced_accuracy": float(recall[held].mean()), "macro_f1": float(f1.mean()),
           "worst_class_recall": float(recall[held].min())}
    out.update({f"recall_{name}": float(r) for name, r in zip(class_names, recall)})
    return out


def thin_test_classes(y_test: np.ndarray, class_names: tuple[str, ...], minimum: int = THIN_TEST_CLASS) -> str | None:
    """A one-line caution when some class has fewer than ``minimum`` (but at least one) test
    items: its recall moves in steps of 1/count, and balanced accuracy and macro F1 by
    1/(count · classes held) per item; None when every class held has ``minimum`` or more."""
    support = np.bincount(np.asarray(y_test, np.int64), minlength=len(class_names))
    held = np.flatnonzero(support > 0)
    thin = sorted((int(support[i]), class_names[i]) for i in held if support[i] < minimum)
    if not thin:
        return None
    count, name = thin[0]
    listed = ", ".join(f"{n!r} {k}" for k, n in thin[:4]) + (f" and {len(thin) - 4} more" if len(thin) > 4 else "")
    return (f"test split: {len(thin)} class(es) with fewer than {minimum} test items ({listed}): one test image of "
            f"{name!r} moves its recall by {100 / count:.0f} points and balanced accuracy by "
            f"{100 / (count * len(held)):.1f}, so per-class metrics (balanced_accuracy, macro_f1, "
            f"worst_class_recall, recall_<class>) are coarse here; a larger dataset.test_fraction, where the "
            f"dataset has one, gives them more items")
