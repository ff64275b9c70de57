"""The simulated active-learning loop. It never names a strategy.

One run walks one nested trajectory through every budget point: the labeled set only grows,
so the 50 % set contains the 25 % set and no prefix is ever recomputed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .data import Split
from .errors import UserError
from .model import HeadSettings, LinearHead, expected_calibration_error, fit_temperature
from .rng import stream, torch_seed
from .strategies import PoolView, select_batch

log = logging.getLogger(__name__)

__all__ = ["BudgetPlan", "plan_budget", "LoopSettings", "LoopResult", "run_loop", "Checkpoint", "TIMING_COLUMNS"]


@dataclass(frozen=True)
class BudgetPlan:
    """Budget points as labeled counts, with the fractions they came from."""

    fractions: tuple[float, ...]  # as configured, increasing, each in (0, 1]
    points: tuple[int, ...]  # n_labeled at each budget point, strictly increasing
    initial: int
    batch_size: int
    pool_size: int

    @property
    def n_rounds(self) -> int:
        """Purchase rounds the plan takes (the last batch before each point is cut to fit)."""
        rounds, have = 0, self.initial
        for target in self.points:
            if target > have:
                rounds += -(-(target - have) // self.batch_size)
                have = target
        return rounds


def _count(value: float | int, pool_size: int, key: str) -> int:
    """An int ≥ 1 is a count; a float in (0, 1) is a fraction of the pool."""
    if isinstance(value, float) and 0 < value < 1:
        return max(1, int(round(value * pool_size)))
    if float(value) == int(value) and int(value) >= 1:
        return int(value)
    raise UserError(f"{key}={value!r}: give a count >= 1 or a fraction of the pool in (0, 1)")


def plan_budget(pool_size: int, fractions, initial: float | int, batch_size: float | int) -> BudgetPlan:
    fr = tuple(float(f) for f in fractions)
    if not fr:
        raise UserError("budget.fractions is empty; give increasing fractions of the pool in (0, 1]")
    if any(not 0 < f <= 1 for f in fr) or any(b <= a for a, b in zip(fr, fr[1:])):
        raise UserError(f"budget.fractions={list(fr)}: must be strictly increasing, each in (0, 1]")
    points = tuple(max(1, int(round(f * pool_size))) for f in fr)
    if any(b <= a for a, b in zip(points, points[1:])):
        raise UserError(
            f"budget.fractions={list(fr)} give labeled counts {list(points)} on a pool of {pool_size}: "
            "two points coincide; use fewer or wider-spaced fractions"
        )
    n0 = _count(initial, pool_size, "budget.initial")
    bs = _count(batch_size, pool_size, "budget.batch_size")
    if n0 > points[0]:
        raise UserError(
            f"budget.initial={n0} exceeds the first budget point ({points[0]} = {fr[0]:g} of a pool of "
            f"{pool_size}); lower budget.initial or raise budget.fractions[0]"
        )
    if bs > pool_size:
        raise UserError(f"budget.batch_size={bs} is larger than the pool ({pool_size})")
    return BudgetPlan(fr, points, n0, bs, pool_size)


@dataclass(frozen=True)
class LoopSettings:
    strategy: str
    seed: int
    random_fraction: float = 0.0
    params: dict | None = None
    head: HeadSettings = HeadSettings()
    temperature_scaling: bool = True
    ece_bins: int = 15
    progress: bool = False
    # builds the model: (n_features, n_classes, seed) -> an object with LinearHead's methods;
    # None = the linear head with `head` settings
    make_head: Callable[[int, int, int], Any] | None = None


@dataclass
class LoopResult:
    curve: list[dict]  # one row per budget point
    selected: list[dict]  # one row per labeled item, in purchase order
    full_pool_accuracy: float


class HeadCache:
    """The head for the current labeled set, fitted (and calibrated) at most once per set."""

    def __init__(self, x_pool, y_pool, x_cal, y_cal, n_classes, s: LoopSettings) -> None:
        self.x_pool, self.y_pool, self.x_cal, self.y_cal = x_pool, y_pool, x_cal, y_cal
        self.n_classes, self.s = n_classes, s
        self.labeled: np.ndarray | None = None
        self.key: bytes | None = None
        self.head: LinearHead | None = None
        self.fit_seconds = 0.0
        self.calibration_seconds = 0.0
        self.asked = False  # whether a strategy asked for model outputs since the last reset

    def update(self, labeled: np.ndarray) -> None:
        self.labeled = np.sort(labeled)

    def current(self) -> LinearHead:
        key = self.labeled.tobytes()
        if key != self.key:
            t0 = time.perf_counter()
            seed = torch_seed(self.s.seed, "head")
            if self.s.make_head is None:
                head = LinearHead(self.x_pool.shape[1], self.n_classes, self.s.head, seed)
            else:
                head = self.s.make_head(self.x_pool.shape[1], self.n_classes, seed)
            head.fit(self.x_pool[self.labeled], self.y_pool[self.labeled])
            t1 = time.perf_counter()
            if self.s.temperature_scaling and len(self.y_cal):
                head.temperature = fit_temperature(head.logits(self.x_cal), self.y_cal)
            self.fit_seconds += t1 - t0
            self.calibration_seconds += time.perf_counter() - t1
            self.head, self.key = head, key
        return self.head

    # ModelAccess, for strategies
    def probs(self, positions: np.ndarray) -> np.ndarray:
        self.asked = True
        return self.current().predict_proba(self.x_pool[positions])

    def mc_probs(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        self.asked = True
        return self.current().sample_proba(self.x_pool[positions], k, seed)

    def bald_scores(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        """BALD fused into the MC passes when the head offers it (no (K, U, C) array)."""
        self.asked = True
        head = self.current()
        if hasattr(head, "bald_scores"):
            return head.bald_scores(self.x_pool, k, seed, rows=positions)
        from .scores import bald

        return bald(head.sample_proba(self.x_pool[positions], k, seed))

    def gradient_factors(self, positions: np.ndarray):
        self.asked = True
        return self.current().gradient_factors(self.x_pool[positions])

    def model_seconds(self) -> float:
        return self.fit_seconds + self.calibration_seconds


class LabeledDistance:
    """Squared distance of every pool item to its nearest labeled item, updated as labels come.

    Each update searches only the newly labeled items (N × batch × d), so strategies that seed
    from the labeled set (k-center, hybrid) do not redo an N × L search every round.
    """

    def __init__(self, x_pool: np.ndarray) -> None:
        self.x = x_pool
        self.labeled: list[int] = []
        self.d: np.ndarray | None = None
        self.near: np.ndarray | None = None
        self.done = 0

    def restore(self, labeled: list[int], d: np.ndarray | None, near: np.ndarray | None, done: int) -> None:
        self.labeled, self.done = labeled, int(done)
        self.d = None if d is None or d.size == 0 else d.copy()
        self.near = None if near is None or near.size == 0 else near.copy()
        if self.d is None:
            self.done = 0

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        from .selectors import nearest_center

        new = np.asarray(self.labeled[self.done :], np.int64)
        if new.size:
            d, j = nearest_center(self.x, self.x[new])
            if self.d is None:
                self.d, self.near = d, new[j]
            else:
                better = d < self.d
                self.d[better] = d[better]
                self.near[better] = new[j[better]]
            self.done = len(self.labeled)
        return self.d, self.near


class PeakMemory:
    """Peak extra resident memory of a block of work, in MB (Linux; NaN elsewhere).

    Resets the kernel's high-water mark (``/proc/self/clear_refs``), then reads ``VmHWM`` minus
    the resident size at the start. Counts every allocator (numpy, torch, FAISS) alike.
    """

    def __enter__(self) -> "PeakMemory":
        self.mb = float("nan")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._start = _status_kb("VmRSS:")
        except OSError:
            self._start = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._start is not None:
            peak = _status_kb("VmHWM:")
            if peak is not None:
                self.mb = max(0.0, (peak - self._start) / 1024.0)


def _status_kb(field: str) -> int | None:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return None


def _starving(counts: np.ndarray, pool_counts: np.ndarray, n_labeled: int, class_names) -> list[str]:
    """Classes whose labeled count is below a quarter of their pool share (when that share is ≥ 4)."""
    expected = pool_counts / pool_counts.sum() * n_labeled
    return [f"{class_names[c]} ({counts[c]} labeled, {expected[c]:.0f} expected)"
            for c in np.flatnonzero((expected >= 4) & (counts < 0.25 * expected))]


def _evaluate(head: LinearHead, x_test, y_test, bins: int) -> dict:
    probs = head.predict_proba(x_test)
    t = head.temperature
    head.temperature = 1.0
    raw = head.predict_proba(x_test)
    head.temperature = t
    return {
        "accuracy": float((probs.argmax(axis=1) == y_test).mean()),
        "ece": expected_calibration_error(probs, y_test, bins),
        "ece_uncalibrated": expected_calibration_error(raw, y_test, bins),
        "temperature": float(t),
    }


def run_loop(
    features: np.ndarray,
    labels: np.ndarray,
    split: Split,
    class_names: tuple[str, ...],
    plan: BudgetPlan,
    initial: np.ndarray,
    s: LoopSettings,
    model_inputs: np.ndarray | None = None,
    checkpoint: "Checkpoint | None" = None,
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

    inputs = features if model_inputs is None else model_inputs
    x_pool, y_pool = features[split.pool], labels[split.pool]
    m_pool, x_test, y_test = inputs[split.pool], inputs[split.test], labels[split.test]
    n_classes = len(class_names)
    head = HeadCache(m_pool, y_pool, inputs[split.calibration], labels[split.calibration], n_classes, s)
    distances = LabeledDistance(x_pool)

    labeled = list(np.asarray(initial, np.int64))
    is_labeled = np.zeros(len(y_pool), bool)
    is_labeled[labeled] = True
    selected = [_sel_row(p, 0, "initial", split, y_pool) for p in labeled]
    missing = sorted(set(range(n_classes)) - set(y_pool[labeled].tolist()))
    if missing:
        log.warning("initial labeled set (%d items) has no example of class(es) %s", len(labeled),
                    [class_names[c] for c in missing])

    curve: list[dict] = []
    rnd = 0
    sel_seconds = 0.0
    peak_mb = 0.0  # largest per-round peak extra memory of selection since the last point
    if checkpoint is not None and checkpoint.exists():
        st = checkpoint.load()
        labeled = st["labeled"].tolist()
        is_labeled[:] = False
        is_labeled[labeled] = True
        selected = [_sel_row(p, int(r), _SOURCES[int(c)], split, y_pool)
                    for p, r, c in zip(labeled, st["rounds"], st["sources"])]
        curve, rnd = st["meta"]["curve"], st["meta"]["round"]
        sel_seconds, peak_mb = st["meta"]["selection_seconds"], st["meta"]["peak_mb"]
        head.fit_seconds, head.calibration_seconds = st["meta"]["train_seconds"], st["meta"]["calibration_seconds"]
        head.asked = st["meta"]["asked"]
        distances.restore(labeled, st["dist_d"], st["dist_near"], st["meta"]["dist_done"])
        log.info("%s seed=%d: resuming from the checkpoint after round %d (%d labeled, %d budget point(s) done)",
                 s.strategy, s.seed, rnd, len(labeled), len(curve))

    def save() -> None:
        if checkpoint is None:
            return
        checkpoint.save(
            labeled=np.asarray(labeled, np.int64),
            rounds=np.array([r["round"] for r in selected], np.int32),
            sources=np.array([_SOURCES.index(r["source"]) for r in selected], np.uint8),
            dist_d=distances.d, dist_near=distances.near,
            meta={"round": rnd, "curve": curve, "selection_seconds": sel_seconds, "peak_mb": peak_mb,
                  "train_seconds": head.fit_seconds, "calibration_seconds": head.calibration_seconds,
                  "asked": head.asked, "dist_done": distances.done})

    pool_counts = np.bincount(y_pool, minlength=n_classes)
    bar = tqdm(total=plan.n_rounds, initial=rnd, desc=s.strategy, unit="round", disable=not s.progress, leave=False)
    for point, (fraction, target) in enumerate(zip(plan.fractions, plan.points)):
        if point < len(curve):  # done before a restart
            continue
        while len(labeled) < target:
            n = min(plan.batch_size, target - len(labeled))
            lab = np.asarray(labeled, np.int64)
            head.update(lab)
            distances.labeled = labeled
            view = PoolView(x_pool, lab, np.flatnonzero(~is_labeled), n_classes, rnd, head, distances)
            if head.asked:  # the strategy used the head last round: fit it outside the timed block
                head.current()
            head.asked = False
            t0, m0 = time.perf_counter(), head.model_seconds()
            with PeakMemory() as mem:
                picks, by_strategy = select_batch(s.strategy, view, n, stream(s.seed, "select", rnd),
                                                  s.random_fraction, s.params)
            sel_seconds += time.perf_counter() - t0 - (head.model_seconds() - m0)
            peak_mb = max(peak_mb, mem.mb) if np.isfinite(mem.mb) else peak_mb
            rnd += 1
            for p, own in zip(picks.tolist(), by_strategy.tolist()):
                selected.append(_sel_row(p, rnd, "strategy" if own else "random", split, y_pool))
            labeled.extend(picks.tolist())
            is_labeled[picks] = True
            bar.update(1)
            save()
        head.update(np.asarray(labeled, np.int64))
        fitted = head.current()  # timed as training/calibration, not as evaluation
        t0 = time.perf_counter()
        metrics = _evaluate(fitted, x_test, y_test, s.ece_bins)
        eval_seconds = time.perf_counter() - t0
        counts = np.bincount(y_pool[labeled], minlength=n_classes)
        row = {
            "budget": fraction,
            "n_labeled": len(labeled),
            "fraction": len(labeled) / len(y_pool),
            "rounds": rnd,
            **metrics,
            "selection_seconds": sel_seconds,
            "selection_peak_mb": peak_mb,
            "train_seconds": head.fit_seconds,
            "calibration_seconds": head.calibration_seconds,
            "eval_seconds": eval_seconds,
            **{f"labeled_{name}": int(c) for name, c in zip(class_names, counts)},
        }
        curve.append(row)
        peak_mb = 0.0
        save()
        starving = _starving(counts, pool_counts, len(labeled), class_names)
        if starving:
            log.warning("%s seed=%d at %d labels: class(es) far below their pool share: %s",
                        s.strategy, s.seed, len(labeled), "; ".join(starving))
        log.info("%s seed=%d budget=%.3g n_labeled=%d accuracy=%.4f ece=%.4f (uncalibrated %.4f) T=%.2f",
                 s.strategy, s.seed, fraction, len(labeled), metrics["accuracy"], metrics["ece"],
                 metrics["ece_uncalibrated"], metrics["temperature"])
    bar.close()

    # the reference every curve is read against: the same head trained on the whole pool
    head.update(np.arange(len(y_pool)))
    full = _evaluate(head.current(), x_test, y_test, s.ece_bins)["accuracy"]
    for row in curve:
        row["full_pool_accuracy"] = full
    return LoopResult(curve, selected, full)


_SOURCES = ("initial", "strategy", "random")
# curve-row columns that measure this machine rather than the method: kept out of curve.csv
TIMING_COLUMNS = ("selection_seconds", "selection_peak_mb", "train_seconds", "calibration_seconds", "eval_seconds")


class Checkpoint:
    """The loop's state after a round, in one .npz written atomically (temp file + rename)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path, self.fingerprint = Path(path), fingerprint

    def exists(self) -> bool:
        """True when a checkpoint of this same config (fingerprint) is there and readable."""
        if not self.path.is_file():
            return False
        try:
            with np.load(self.path, allow_pickle=False) as z:
                ok = str(z["fingerprint"]) == self.fingerprint
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint means: start over
            log.warning("ignoring unreadable checkpoint %s (%s)", self.path, exc)
            return False
        if not ok:
            log.warning("ignoring checkpoint %s: written by another config or code version", self.path)
        return ok

    def load(self) -> dict:
        with np.load(self.path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        out["meta"] = json.loads(str(out["meta"]))
        return out

    def save(self, *, meta: dict, dist_d, dist_near, **arrays: np.ndarray) -> None:
        from .results import atomic_write

        empty = np.zeros(0)
        payload = {**arrays, "dist_d": empty if dist_d is None else dist_d,
                   "dist_near": empty if dist_near is None else dist_near,
                   "meta": np.array(json.dumps(meta)), "fingerprint": np.array(self.fingerprint)}
        atomic_write(self.path, lambda f: np.savez(f, **payload))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _sel_row(pos: int, rnd: int, source: str, split: Split, y_pool: np.ndarray) -> dict:
    return {"round": rnd, "pool_position": int(pos), "index": int(split.pool[pos]), "label": int(y_pool[pos]),
            "source": source}
