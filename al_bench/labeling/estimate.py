"""An honest accuracy estimate while labeling: cross-fitted predictions on a uniform audit share.

A strategy picks the images it finds hardest (or most typical), so accuracy measured on them,
cross-validated or not, says little about the folder: in ``bench/label_session.py`` 5-fold
cross-validation on least-confidence picks read 24 % where held-out images gave 34 %. The audit
fixes what is measured on: a share of every batch (``audit_fraction``) is drawn uniformly from
the unlabeled images — the person labels them like any other — so the audited images are a
uniform sample of the images not yet labeled at the time of their batch.

They are not kept out of training. The estimate reads the out-of-fold predictions that the
project's K-fold cross-validation makes anyway (:func:`cross_fit`): each audited image is
predicted by a model trained on every other fold, audited images included, so no label is
spent on evaluation alone, and the estimate describes a model trained on (K − 1)/K of the
labels — slightly pessimistic for the model fitted on all of them. The cost is that the audit
share is picked at random instead of by the strategy.

Accuracy is a difference estimator (prediction-powered inference, Angelopoulos et al. 2023,
with the model's confidence as the prediction): the current model's mean calibrated confidence
on the images not yet labeled, plus the audited images' mean of (predicted right − out-of-fold
confidence), with a Student t interval. The first term follows the unlabeled images as the
strategy takes the hard ones away; the audit corrects the confidence's bias. The audited
images' plain share of right answers cannot: they were drawn from the unlabeled images as they
were at their batch, harder than those left now, and it read 4–5 points low on digits with a
95 % Wilson interval covering the truth in 53–56 % of the (session, batch) pairs, where the
difference estimator's covered 87–94 % (``bench/README.md``, *The audit estimate*). Per-class
recall is the audited images' share of each class predicted right (Wilson interval); balanced
accuracy their mean over the classes, with a normal interval from the per-class binomial
variances (every class needs an audited image first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Estimate", "wilson", "audit_estimate", "difference_estimate", "cross_fit", "Z95"]

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share k / n (0, 1 when n = 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Estimate:
    """The current model's accuracy on the images not yet labeled, from the audited images."""

    n_audit: int  # audited images with a label
    n_labeled: int  # every labeled image (the model's training set)
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    balanced_accuracy: float | None  # None until every class has an audited image
    balanced_ci_low: float | None
    balanced_ci_high: float | None
    # class → {"recall", "ci_low", "ci_high", "n"}; recall None for a class with no audited image
    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        if not self.n_audit:
            return "no estimate yet: no audited image is labeled (a share of each batch is drawn at random for it)"
        return (f"the model's confidence on the unlabeled images, corrected by {self.n_audit} audited images "
                f"(drawn uniformly from the unlabeled ones, a share of each batch) of {self.n_labeled} labeled, "
                "predicted by cross-validation models that did not see them; 95 % interval")

    def as_dict(self) -> dict[str, Any]:
        return {"n_audit": self.n_audit, "n_labeled": self.n_labeled, "accuracy": self.accuracy,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "balanced_accuracy": self.balanced_accuracy,
                "balanced_ci_low": self.balanced_ci_low, "balanced_ci_high": self.balanced_ci_high,
                "per_class": self.per_class, "source": self.source}


def difference_estimate(correct: np.ndarray, conf_audit: np.ndarray, conf_unlabeled: np.ndarray
                        ) -> tuple[float, float, float]:
    """(estimate, low, high): the model's mean confidence on the unlabeled images plus the audited
    images' mean of (right − confidence), with a 95 % Student t interval from the audit's spread
    (and the mean confidence's, which is small). See the module: this follows the unlabeled
    images as the strategy takes the hard ones away; the audit corrects the confidence's bias."""
    r = np.asarray(correct, np.float64) - np.asarray(conf_audit, np.float64)
    c = np.asarray(conf_unlabeled, np.float64)
    est = float(c.mean() + r.mean())
    se = math.sqrt(r.var(ddof=1) / r.size + (c.var(ddof=1) / c.size if c.size > 1 else 0.0))
    from scipy import stats

    half = float(stats.t.ppf(0.975, r.size - 1)) * se
    return min(1.0, max(0.0, est)), max(0.0, est - half), min(1.0, est + half)


def audit_estimate(correct: np.ndarray, y: np.ndarray, classes: list[str], n_labeled: int,
                   conf_audit: np.ndarray | None = None, conf_unlabeled: np.ndarray | None = None) -> Estimate:
    """The estimate from the audited images: ``correct`` (n,) whether each was predicted right
    out of fold, ``y`` (n,) their class codes into ``classes``. With the out-of-fold confidence
    of the audited images (``conf_audit``, the top calibrated probability) and the model's on
    the unlabeled images (``conf_unlabeled``), accuracy is :func:`difference_estimate` (from 2
    audited images on); without, the audited images' share with a Wilson interval. Per-class
    recall and balanced accuracy are the audited images' own, as in the module."""
    correct = np.asarray(correct, bool)
    y = np.asarray(y, np.int64)
    n = int(correct.size)
    if n == 0:
        return Estimate(0, n_labeled, None, None, None, None, None, None,
                        {c: {"recall": None, "ci_low": None, "ci_high": None, "n": 0} for c in classes})
    k = int(correct.sum())
    if conf_audit is not None and conf_unlabeled is not None and n >= 2 and np.size(conf_unlabeled):
        acc, lo, hi = difference_estimate(correct, conf_audit, conf_unlabeled)
    else:
        (lo, hi), acc = wilson(k, n), k / n
    per, recalls, variances = {}, [], []
    for c, name in enumerate(classes):
        mine = correct[y == c]
        if mine.size == 0:
            per[name] = {"recall": None, "ci_low": None, "ci_high": None, "n": 0}
            continue
        r = float(mine.mean())
        rl, rh = wilson(int(mine.sum()), int(mine.size))
        per[name] = {"recall": r, "ci_low": rl, "ci_high": rh, "n": int(mine.size)}
        recalls.append(r)
        # a class all right (or all wrong) still has sampling uncertainty: the Wilson interval's
        # half-width as its standard error's stand-in keeps it from counting as exact
        variances.append(max(r * (1 - r) / mine.size, ((rh - rl) / (2 * Z95)) ** 2))
    if len(recalls) == len(classes):
        bal = float(np.mean(recalls))
        half = Z95 * math.sqrt(sum(variances)) / len(classes)
        bal_lo, bal_hi = max(0.0, bal - half), min(1.0, bal + half)
    else:
        bal = bal_lo = bal_hi = None
    return Estimate(n, n_labeled, acc, lo, hi, bal, bal_lo, bal_hi, per)


def cross_fit(x: np.ndarray, y: np.ndarray, n_classes: int, folds: int, rng: np.random.Generator,
              make_head: Callable[[], Any], progress: Callable[[str, float | None], None] | None = None
              ) -> tuple[np.ndarray, list[float]]:
    """(out-of-fold logits (n, C), per-fold accuracies): ``folds``-fold cross-validation over a
    permutation from ``rng``; each fold is predicted by ``make_head()`` fitted on the others."""
    n = len(y)
    oof = np.zeros((n, n_classes))
    fold_acc = []
    perm = rng.permutation(n)
    for k, val in enumerate(np.array_split(perm, folds)):
        if progress is not None:
            progress(f"cross-validation fold {k + 1} of {folds}", k / (folds + 1))
        train = np.setdiff1d(perm, val)
        oof[val] = make_head().fit(x[train], y[train]).logits(x[val])
        fold_acc.append(float((oof[val].argmax(1) == y[val]).mean()))
    return oof, fold_acc
