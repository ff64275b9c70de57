"""``auto``: a strategy that chooses, each round, between a low-budget and a high-budget candidate.

Which strategy is best depends on the budget regime (al_bench's 10-seed study: TypiClust and
DropQuery at 1–10 labels per class, margin and the uncertainty family above), and the regime's
edge depends on the data. ``auto`` decides it from what a real user has: the labels bought so
far, the pool's embeddings and the current model, never a hidden or test label.

The decision is a *removal test* on the labeled set, after SelectAL (Hacohen & Weinshall,
NeurIPS 2023): a learner that gains most from typical examples (the low-budget regime) loses
more when its most typical labeled examples are taken away than when its least typical ones
are; in the high-budget regime it is the other way round. Over ``repeats`` × ``folds``
cross-validation splits of the labeled items, a ridge classifier on the unit-length embeddings
(closed form, so a round costs milliseconds) is fitted twice on each training part: once
without its ``remove_fraction`` most typical items and once without its least typical ones
(typicality: 1 / mean distance to the ``k_neighbors`` nearest pool items), and both are scored
on the held-out part. With d the per-split accuracy lost by removing the typical items minus
that lost by removing the atypical ones, a mean of d at least ``t_threshold`` standard errors
above 0 says "low budget" (the ``low`` candidate picks), as far below 0 "high budget" (``high``
picks). When the test is not that clear (it rarely is below a few labels per class, where the
held-out parts hold a handful of items), the labels-per-class rule of ``tcm`` decides:
``low`` below ``switch_per_class`` × C labels, ``high`` from there. The test can move the switch
earlier, never later: budget regimes run from low to high as labels grow (Hacohen et al. 2022),
so past the rule's switch ``high`` picks whatever the test says. (A first version let the test
keep ``low`` past the switch too; in the 10-seed study on digits it did so in 31 % of the rounds
at 20–50 labels per class and cost 0.6 points against the best fixed strategy at 324 labels,
p = 0.04: ``bench/README.md``, *auto*.)

Each round's candidate and the test's numbers are recorded (``PoolView.decide``:
``decisions.csv`` in a run folder, ``params["candidate"]``/``["reason"]`` of a one-off pick).
Without the labels (a pick from model outputs alone) or below ``min_labels``, the rule decides;
without model outputs, ``low`` picks. The splits and removals draw from ``rng`` before the
candidate does, so a run replays exactly.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..kernels.distances import unit_rows
from . import STRATEGIES, PoolView, needs_model, register
from ._select import run_strategy
from .typiclust import typicality

__all__ = ["auto", "removal_test", "ridge_accuracy", "ridge_weights"]

RIDGE = 1.0  # the ridge classifier's L2 penalty on unit-length rows (plus an unpenalized bias)


def ridge_weights(x: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """(d + 1, C) weights of a one-vs-all ridge regression of one-hot targets on ``[x, 1]`` (the
    bias unpenalized), float64: argmin ‖[x, 1] w − Y‖² + RIDGE · ‖w without its bias row‖². Solved
    in the smaller of the primal (d + 1 unknowns per class) and the dual (n) form."""
    xt = np.hstack([x, np.ones((len(x), 1))]).astype(np.float64)
    target = np.zeros((len(y), n_classes))
    target[np.arange(len(y)), y] = 1.0
    pen = np.full(xt.shape[1], RIDGE)
    pen[-1] = 1e-8  # the bias is (all but) not shrunk
    if xt.shape[0] < xt.shape[1]:  # dual: w = P⁻¹ Xᵀ (X P⁻¹ Xᵀ + I)⁻¹ Y
        scaled = xt / pen
        return scaled.T @ np.linalg.solve(scaled @ xt.T + np.eye(len(xt)), target)
    return np.linalg.solve(xt.T @ xt + np.diag(pen), xt.T @ target)


def ridge_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   n_classes: int) -> float:
    """Accuracy on the test rows of :func:`ridge_weights` fitted on the training rows."""
    w = ridge_weights(x_train, y_train, n_classes)
    pred = (np.hstack([x_test, np.ones((len(x_test), 1))]) @ w).argmax(1)
    return float((pred == y_test).mean())


def removal_test(x: np.ndarray, y: np.ndarray, typical: np.ndarray, n_classes: int, rng: np.random.Generator,
                 folds: int = 5, repeats: int = 3, remove_fraction: float = 0.2) -> tuple[float, float, int]:
    """(mean d, its standard error, number of splits): d = accuracy lost by removing the most
    typical ``remove_fraction`` of a split's training items minus that lost by removing the least
    typical, both on the held-out items (see the module). ``x`` unit rows of the labeled items,
    ``y`` their class codes, ``typical`` their typicality."""
    n = len(y)
    k = max(2, min(int(folds), n))
    xt = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
    target = np.zeros((n, n_classes))
    target[np.arange(n), y] = 1.0
    pen = np.diag(np.r_[np.full(x.shape[1], RIDGE), 1e-8])
    gram, cross = xt.T @ xt, xt.T @ target  # a fit on all but some rows subtracts theirs (primal form)

    def accuracy(out: np.ndarray, test: np.ndarray, g_test: np.ndarray, c_test: np.ndarray) -> float:
        keep = np.setdiff1d(np.arange(n), np.concatenate([test, out]))
        if keep.size < xt.shape[1]:  # fewer rows than unknowns: the dual form on the rows kept
            w = ridge_weights(x[keep], y[keep], n_classes)
        else:
            w = np.linalg.solve(gram - g_test - xt[out].T @ xt[out] + pen, cross - c_test - xt[out].T @ target[out])
        return float(((xt[test] @ w).argmax(1) == y[test]).mean())

    diffs = []
    for _ in range(int(repeats)):
        order = rng.permutation(n)
        for f in range(k):
            test = order[f::k]
            train = np.setdiff1d(order, test)
            r = max(1, int(round(float(remove_fraction) * train.size)))
            if train.size - r < 2 or test.size == 0:
                continue
            by_typ = train[np.argsort(-typical[train], kind="stable")]  # most typical first
            g_test, c_test = xt[test].T @ xt[test], xt[test].T @ target[test]
            acc_no_typ = accuracy(by_typ[:r], test, g_test, c_test)
            acc_no_atyp = accuracy(by_typ[-r:], test, g_test, c_test)
            diffs.append(acc_no_atyp - acc_no_typ)
    if len(diffs) < 2:
        return 0.0, float("inf"), len(diffs)
    d = np.asarray(diffs)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)), int(d.size)


@register("auto", needs={"probs", "features"}, cold_start=True, reads_labels=True,
          score="the candidate's (see decisions.csv or params['candidate'])",
          param_ranges={"switch_per_class": (0, 1_000_000), "t_threshold": (0, 1000), "remove_fraction": (0.01, 0.5),
                        "folds": (2, 100), "repeats": (1, 100), "min_labels": (4, 1_000_000), "k_neighbors": (1, 10_000)})
def auto(view: PoolView, n: int, rng: np.random.Generator, low: str = "typiclust", high: str = "margin",
         switch_per_class: float = 10.0, t_threshold: float = 2.0, remove_fraction: float = 0.2, folds: int = 5,
         repeats: int = 3, min_labels: int = 20, k_neighbors: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unlabeled positions from ``low`` or ``high``, whichever the removal test (or, when it is
    not clear, the labels-per-class rule) says the budget regime calls for."""
    for key, name in (("low", low), ("high", high)):
        if name == "auto" or name not in STRATEGIES:
            raise UserError(f"{name!r} is not a strategy auto can choose; choose one of "
                            f"{sorted(e.name for e in STRATEGIES.entries() if e.name != 'auto')}", key=f"strategy.params.{key}")
    labeled = int(view.labeled.size)
    switch = float(switch_per_class) * view.n_classes
    rule = high if view.model is not None and labeled >= switch else low
    rule_why = (f"rule: {labeled} labeled {'>=' if rule == high else '<'} {switch_per_class:g} per class x "
                f"{view.n_classes} classes" if view.model is not None else "no model outputs yet")
    choice, why = rule, rule_why
    if view.model is not None and view.labels is not None and labeled >= int(min_labels) \
            and np.unique(view.labels).size >= 2:
        xn = unit_rows(view.embeddings)
        if view.memo is not None:  # a run: the whole pool's typicality once, every round reads it
            typ = view.cached(("auto.typicality", int(k_neighbors)),
                              lambda g: typicality(xn, np.arange(len(xn)), int(k_neighbors)), rng)[view.labeled]
        else:  # a one-off pick: the labeled items' only (against the whole pool, as above)
            typ = typicality(xn, view.labeled, int(k_neighbors))
        mean, se, splits = removal_test(xn[view.labeled], np.asarray(view.labels, np.int64), typ,
                                        max(view.n_classes, int(np.max(view.labels)) + 1), rng, folds, repeats,
                                        remove_fraction)
        t = mean / se if se > 0 else (0.0 if mean == 0 else np.sign(mean) * np.inf)
        test = (f"removal test over {splits} splits: accuracy lost without the most typical labels minus without "
                f"the least typical {100 * mean:+.1f} points (t = {t:.2f})")
        if t >= t_threshold and rule == high:  # budget regimes run one way: past the switch it stays high
            why = f"{test}: low budget, but past the rule's switch the regime does not go back; {rule_why}"
        elif t >= t_threshold:
            choice, why = low, f"{test}: low budget"
        elif t <= -t_threshold:
            choice, why = high, f"{test}: high budget"
        else:
            why = f"{test}, not clear (|t| < {t_threshold:g}); {rule_why}"
    view.decide(choice, why)
    if view.model is None and needs_model(choice):
        raise UserError(f"auto chose {choice!r}, which needs model outputs; none were given", key="strategy.params.low")
    picks, scores = run_strategy(choice, view, n, rng, {})
    return picks, scores
