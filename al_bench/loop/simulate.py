"""The simulated active-learning loop. It never names a strategy.

One run walks one nested trajectory through every budget point: the labeled set only grows,
so the 50 % set contains the 25 % set and no prefix is ever recomputed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..data import Split, initial_labeled
from ..errors import UserError
from ..heads import Head
from ..picking.request import SelectionRequest, check_request
from ..rng import stream
from ..stopping import cohen_kappa, stop_set
from ..strategies import PoolView, RunMemo, balanced_batch, features_only, run_strategy, select_batch
from .budget import BudgetPlan
from .checkpoint import Checkpoint
from .distances import LabeledDistance
from .lure import lure_weights, uniform_probabilities
from .memory import PeakMemory
from .oracle import ModelOracle, evaluate

log = logging.getLogger("al_bench.loop")

__all__ = ["LoopSettings", "LoopResult", "run_loop", "default_head", "default_selection_head", "initial_set"]


def default_head(n_features: int, n_classes: int, seed: int) -> Head:
    """The linear head with its default settings (:func:`al_bench.heads.linear.linear_head`)."""
    from ..heads.linear import linear_head

    return linear_head(n_features, n_classes, seed)


def default_selection_head(n_features: int, n_classes: int, seed: int) -> Head:
    """The linear head with its default settings for the fits between budget points."""
    from ..heads.linear import linear_head

    return linear_head(n_features, n_classes, seed, selection=True)


@dataclass(frozen=True)
class LoopSettings:
    strategy: str
    seed: int
    random_fraction: float = 0.0
    params: dict | None = None
    sampling: str = "topk"  # topk | power | softmax | softrank (al_bench.strategies._sampling)
    beta: float = 1.0
    class_balance: str = "none"  # none | fallback | predicted (al_bench.strategies._balance)
    weighting: str = "none"  # none | lure: the head's loss weighted by LURE weights (al_bench.loop.lure)
    temperature_scaling: bool = True
    ece_bins: int = 15
    progress: bool = False
    # (n_features, n_classes, seed) → a fresh head (see al_bench.heads), fitted at budget points
    make_head: Callable[[int, int, int], Head] = field(default=default_head)
    # the same for the fits between budget points, which only choose the next batch; None: make_head
    make_selection_head: Callable[[int, int, int], Head] | None = None
    # the strategy fields above as a request already checked (parse_settings did); None: checked here
    request: SelectionRequest | None = field(default=None, compare=False, repr=False)

    def selection_request(self) -> SelectionRequest:
        """The rounds' request, checked once: stream ``stream(seed, "select", round)``."""
        if self.request is not None and self.request.checked:
            return self.request
        return check_request(SelectionRequest(self.strategy, params=dict(self.params or {}),
                                              random_fraction=self.random_fraction, sampling=self.sampling,
                                              beta=self.beta, seed=self.seed, stream=("select",), outputs="model",
                                              class_balance=self.class_balance))


@dataclass
class LoopResult:
    curve: list[dict]  # one row per budget point
    selected: list[dict]  # one row per labeled item, in purchase order
    full_pool_accuracy: float
    # per round of a strategy that chooses among others (PoolView.decide): round (as in
    # selected.csv), labels before the purchase, candidate, reason; empty for the others
    decisions: list[dict] = field(default_factory=list)


_SOURCES = ("initial", "strategy", "random", "balance")  # balance: a class_balance=fallback pick


def initial_set(plan: BudgetPlan, x_pool: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Pool positions (ascending) of the initial labeled set: ``plan.initial`` items picked by
    ``plan.initial_strategy``.

    It depends on the seed, the pool's embeddings ``x_pool`` (P, d) and the initial strategy
    only — never on labels, nor on the strategy being benchmarked — so every strategy at a seed
    starts from the same set and comparisons stay paired. ``random`` is a uniform draw from the
    seed's ``initial`` stream; any other must need only embeddings (``features_only``): it runs
    once with nothing labeled, its default parameters and its own stream (``initial``, name).
    """
    name = plan.initial_strategy
    if name == "random":
        return initial_labeled(plan.pool_size, plan.initial, seed)
    if not features_only(name):
        raise UserError(f"{name!r} needs model outputs, which do not exist before the first label; "
                        "choose random or a strategy that reads only embeddings", key="budget.initial_strategy")
    if not 0 < plan.initial <= len(x_pool):
        raise UserError(f"{{initial}}={plan.initial} must be between 1 and the pool size {len(x_pool)}",
                        refs={"initial": "budget.initial"})
    view = PoolView(x_pool, np.empty(0, np.int64), np.arange(len(x_pool), dtype=np.int64), n_classes, 0)
    picks, _ = run_strategy(name, view, plan.initial, stream(seed, "initial", name))
    return np.sort(picks).astype(np.int64)


class _Purchases:
    """The labeled set in purchase order, with a row of ``selected.csv`` per item."""

    def __init__(self, split: Split, y_pool: np.ndarray) -> None:
        self.split, self.y_pool = split, y_pool
        self.labeled: list[int] = []
        self.rows: list[dict] = []
        self.is_labeled = np.zeros(len(y_pool), bool)
        self.acquisition: list[float] = []  # each purchase's draw probability among the items left (NaN: top-k)

    def add(self, positions, rnd: int, sources, acquisition=None) -> None:
        positions = np.asarray(positions, np.int64).tolist()
        acq = [np.nan] * len(positions) if acquisition is None else [float(a) for a in acquisition]
        for p, src, a in zip(positions, sources, acq):
            self.rows.append({"round": rnd, "pool_position": int(p), "index": int(self.split.pool[p]),
                              "label": int(self.y_pool[p]), "source": src})
            self.labeled.append(p)
            self.acquisition.append(a)
        self.is_labeled[np.asarray(positions, np.int64)] = True

    def lure_weights(self) -> np.ndarray:
        """The LURE weights of the purchases so far (purchase order)."""
        return lure_weights(np.asarray(self.acquisition), len(self.y_pool))

    def state(self) -> dict:
        return {"labeled": np.asarray(self.labeled, np.int64),
                "rounds": np.array([r["round"] for r in self.rows], np.int32),
                "sources": np.array([_SOURCES.index(r["source"]) for r in self.rows], np.uint8),
                "acquisition": np.asarray(self.acquisition, np.float64)}

    def restore(self, st: dict) -> None:
        self.labeled.clear()
        self.rows.clear()
        self.acquisition.clear()
        self.is_labeled[:] = False
        acq = st["acquisition"] if "acquisition" in st else np.full(len(st["labeled"]), np.nan)
        for p, r, c, a in zip(st["labeled"].tolist(), st["rounds"], st["sources"], acq):
            self.add([p], int(r), [_SOURCES[int(c)]], [a])


def _starving(counts: np.ndarray, pool_counts: np.ndarray, n_labeled: int, class_names) -> list[str]:
    """Classes whose labeled count is below a quarter of their pool share (when that share is ≥ 4)."""
    expected = pool_counts / pool_counts.sum() * n_labeled
    return [f"{class_names[c]} ({counts[c]} labeled, {expected[c]:.0f} expected)"
            for c in np.flatnonzero((expected >= 4) & (counts < 0.25 * expected))]


def run_loop(
    features: np.ndarray,
    labels: np.ndarray,
    split: Split,
    class_names: tuple[str, ...],
    plan: BudgetPlan,
    initial: np.ndarray,
    s: LoopSettings,
    model_inputs: np.ndarray | None = None,
    checkpoint: Checkpoint | None = None,
) -> LoopResult:
    """Simulate labeling ``plan`` on ``split.pool``: buy batches, refit, evaluate at each point.

    ``initial`` holds pool positions of the initial labeled set (the same for every strategy at
    a seed). ``model_inputs`` (rows like ``features``, e.g. images for an end-to-end model) is
    what the model sees when given; distances for diversity strategies always use ``features``.
    With a ``checkpoint``, the state is saved after every round and budget point, and a run that
    finds one continues from it: every draw depends on the seed and the round number only, and
    the incremental labeled-distance state is saved too, so the results equal an uninterrupted
    run's. Returns the curve rows, the purchase log and the full-pool accuracy.
    """
    from tqdm.auto import tqdm

    req = s.selection_request()  # fails early; also loads the strategies outside the timed rounds
    inputs = features if model_inputs is None else model_inputs
    x_pool, y_pool = features[split.pool], labels[split.pool]
    m_pool, x_test, y_test = inputs[split.pool], inputs[split.test], labels[split.test]
    n_classes = len(class_names)
    oracle = ModelOracle(m_pool, y_pool, inputs[split.calibration], labels[split.calibration], n_classes,
                         s.make_head, s.seed, s.temperature_scaling, s.make_selection_head)
    bought = _Purchases(split, y_pool)
    distances = LabeledDistance(x_pool, bought.labeled)
    memo = RunMemo(s.seed)  # embedding-only values strategies compute once per run (PoolView.cached)

    lure = s.weighting == "lure"
    # a uniform initial set (checked by check_weighting): k draws without replacement from the pool
    bought.add(initial, 0, ["initial"] * len(initial),
               uniform_probabilities(len(y_pool), len(initial)) if lure else None)
    missing = sorted(set(range(n_classes)) - set(y_pool[bought.labeled].tolist()))
    if missing:
        log.warning("initial labeled set (%d items) has no example of class(es) %s", len(bought.labeled),
                    [class_names[c] for c in missing])

    curve: list[dict] = []
    decisions: list[dict] = []
    stop = stop_set(len(y_pool), s.seed)  # κ of successive budget points' models on these (al_bench.stopping)
    stop_prev: np.ndarray | None = None
    rnd = 0
    sel_seconds = 0.0
    peak_mb = 0.0  # largest per-round peak extra memory of selection since the last point
    if checkpoint is not None and checkpoint.exists():
        st = checkpoint.load()
        bought.restore(st)
        meta = st["meta"]
        curve, rnd = meta["curve"], meta["round"]
        decisions = list(meta.get("decisions", []))
        stop_prev = None if meta.get("stop_prev") is None else np.asarray(meta["stop_prev"], np.int64)
        sel_seconds, peak_mb = meta["selection_seconds"], meta["peak_mb"]
        oracle.restore(meta)
        distances.restore(st["dist_d"], st["dist_near"], meta["dist_done"])
        log.info("%s seed=%d: resuming from the checkpoint after round %d (%d labeled, %d budget point(s) done)",
                 s.strategy, s.seed, rnd, len(bought.labeled), len(curve))

    def save() -> None:
        if checkpoint is None:
            return
        dist = distances.state()
        checkpoint.save(
            **bought.state(), dist_d=dist["dist_d"], dist_near=dist["dist_near"],
            meta={"round": rnd, "curve": curve, "decisions": decisions, "selection_seconds": sel_seconds,
                  "stop_prev": None if stop_prev is None else stop_prev.tolist(),
                  "peak_mb": peak_mb,
                  **oracle.state(), "dist_done": dist["dist_done"]})

    pool_counts = np.bincount(y_pool, minlength=n_classes)
    point_sizes = set(int(p) for p in plan.points)
    bar = tqdm(total=plan.n_rounds, initial=rnd, desc=s.strategy, unit="round", disable=not s.progress, leave=False)
    for fraction, target in list(zip(plan.fractions, plan.points))[len(curve):]:  # points done before a restart are skipped
        while len(bought.labeled) < target:
            n = min(plan.batch_size, target - len(bought.labeled))
            lab = np.asarray(bought.labeled, np.int64)
            oracle.update(lab, bought.lure_weights() if lure else None)
            if lab.size in point_sizes:  # the head evaluated at this point also picks the next batch,
                oracle.current(evaluation=True)  # after a resume from this point's checkpoint too
            view = PoolView(x_pool, lab, np.flatnonzero(~bought.is_labeled), n_classes, rnd, oracle, distances, memo,
                            labels=y_pool[lab],  # the labels bought so far, never the hidden ones
                            target=oracle.x_cal)  # held-out inputs (EPIG's target=heldout), never their labels
            if oracle.asked:  # the strategy used the head last round: fit it outside the timed block
                oracle.current()
            oracle.asked = False
            t0, m0 = time.perf_counter(), oracle.model_seconds()
            with PeakMemory() as mem:
                acq: list[float] | None = [] if lure else None
                if req.class_balance == "none":
                    picks, by_strategy = select_batch(req.strategy, view, n, req.rng(rnd), req.random_fraction,
                                                      req.params, sampling=req.sampling, beta=req.beta, checked=True,
                                                      acquisition=acq)
                    sources = ["strategy" if own else "random" for own in by_strategy.tolist()]
                else:  # the labels bought so far, never the hidden ones
                    picks, sources = balanced_batch(req.strategy, view, n, req.rng(rnd), req.random_fraction,
                                                    req.params, req.class_balance, y_pool[lab], req.sampling,
                                                    req.beta)
            sel_seconds += time.perf_counter() - t0 - (oracle.model_seconds() - m0)
            peak_mb = max(peak_mb, mem.mb) if np.isfinite(mem.mb) else peak_mb
            rnd += 1
            decisions += [{"round": rnd, "n_labeled": int(lab.size), **d} for d in view.decisions]
            bought.add(picks, rnd, sources, acq or None)
            bar.update(1)
            save()
        oracle.update(np.asarray(bought.labeled, np.int64), bought.lure_weights() if lure else None)
        fitted = oracle.current(evaluation=True)  # timed as training/calibration, not as evaluation
        t0 = time.perf_counter()
        metrics = evaluate(fitted, x_test, y_test, s.ece_bins, class_names)
        stop_pred = fitted.predict_proba(m_pool[stop]).argmax(axis=1)
        kappa = float("nan") if stop_prev is None else cohen_kappa(stop_prev, stop_pred, n_classes)
        stop_prev = stop_pred
        eval_seconds = time.perf_counter() - t0
        n_labeled = len(bought.labeled)
        counts = np.bincount(y_pool[bought.labeled], minlength=n_classes)
        curve.append({
            "budget": fraction,
            "n_labeled": n_labeled,
            "fraction": n_labeled / len(y_pool),
            "rounds": rnd,
            **metrics,
            "stop_kappa": kappa,  # Cohen's κ against the previous point's model on the stop set
            "selection_seconds": sel_seconds,
            "selection_peak_mb": peak_mb,
            "train_seconds": oracle.fit_seconds,
            "calibration_seconds": oracle.calibration_seconds,
            "eval_seconds": eval_seconds,
            **{f"labeled_{name}": int(c) for name, c in zip(class_names, counts)},
        })
        peak_mb = 0.0
        save()
        starving = _starving(counts, pool_counts, n_labeled, class_names)
        if starving:
            log.warning("%s seed=%d at %d labels: class(es) far below their pool share: %s",
                        s.strategy, s.seed, n_labeled, "; ".join(starving))
        log.info("%s seed=%d budget=%.3g n_labeled=%d accuracy=%.4f ece=%.4f (uncalibrated %.4f) T=%.2f",
                 s.strategy, s.seed, fraction, n_labeled, metrics["accuracy"], metrics["ece"],
                 metrics["ece_uncalibrated"], metrics["temperature"])
    bar.close()

    # the reference every curve is read against: the same head trained on the whole pool
    oracle.update(np.arange(len(y_pool)))
    ref = evaluate(oracle.current(evaluation=True), x_test, y_test, s.ece_bins, class_names)
    full = ref["accuracy"]
    for row in curve:
        row["full_pool_accuracy"] = full
        for key in ("balanced_accuracy", "macro_f1", "worst_class_recall"):  # the other metrics' reference
            row[f"full_pool_{key}"] = ref[key]
    return LoopResult(curve, bought.rows, full, decisions)
