"""What a strategy sees (:class:`PoolView`) and how one is run (:func:`select_batch`).

A strategy is a pure function ``(view, n, rng, **params) → positions`` (or ``(positions,
scores)``): ``n`` distinct positions from ``view.unlabeled``, most wanted first. It touches
nothing else: no state between calls, no mutation of the view, randomness only from ``rng``
(or, for what depends on the embeddings alone, from a :class:`RunMemo` through
:meth:`PoolView.cached`, whose values are the same in every round of a run).
Model outputs (probabilities, MC samples, gradient factors) are asked for through the view,
so the loop never needs to know which strategy it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

__all__ = ["PoolView", "ModelAccess", "RunMemo", "MODEL_OUTPUTS", "NEEDS"]

# what a strategy may declare in ``needs``: model outputs it asks the view for, and features.
# ``dropout`` (dropout passes with a fresh mask per point, at the strategy's own rate) needs the
# head itself: given predictions cannot supply it.
MODEL_OUTPUTS = frozenset({"probs", "mc", "grad", "dropout"})
NEEDS = MODEL_OUTPUTS | {"features"}


class ModelAccess(Protocol):
    """What the loop offers about the current head, computed on demand."""

    def probs(self, positions: np.ndarray) -> np.ndarray: ...  # (n, C), temperature-scaled

    def mc_probs(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray: ...  # (K, n, C)

    def gradient_factors(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def bald_scores(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray: ...  # (n,) nats

    # optional: (K, T, C) for inputs ``x`` that are not pool items (rows the head reads), from the
    # same K passes as mc_probs with the same seed (EPIG's held-out targets)
    def mc_probs_inputs(self, x: np.ndarray, k: int, seed: int) -> np.ndarray: ...

    # (M, n, C), temperature-scaled: M passes with dropout at ``rate`` on the inputs of the head's
    # last layer, a fresh mask for every point in every pass
    def feature_dropout_probs(self, positions: np.ndarray, m: int, rate: float, seed: int) -> np.ndarray: ...


class RunMemo:
    """Values a strategy computes from the embeddings alone, kept for the rounds of one run.

    ``get(key, compute)`` returns ``compute(rng)``, computed at most once per key while the
    entry is kept; ``rng`` is ``stream(seed, "memo", key)`` — the run seed and the key, never
    the round — so a value is the same whichever round first asks for it, and the same again
    after a resume from a checkpoint recomputes it. A key must name everything the value
    depends on besides the embeddings and the seed (the strategy and its parameters). The
    ``max_entries`` most recently used are kept (a δ-ball graph can be tens of megabytes).
    """

    def __init__(self, seed: int, max_entries: int = 4) -> None:
        self.seed, self.max_entries = int(seed), int(max_entries)
        self._values: dict[str, object] = {}

    def get(self, key: tuple, compute: Callable[[np.random.Generator], object]):
        from ..rng import stream

        tag = repr(tuple(key))
        if tag in self._values:
            self._values[tag] = self._values.pop(tag)  # most recently used last
            return self._values[tag]
        value = compute(stream(self.seed, "memo", tag))
        self._values[tag] = value
        while len(self._values) > self.max_entries:
            self._values.pop(next(iter(self._values)))
        return value


@dataclass(frozen=True)
class PoolView:
    """What a strategy may look at in one round. Arrays are read-only.

    ``embeddings`` (P, d) covers the whole pool; ``labeled`` holds pool positions in purchase
    order; ``unlabeled`` the rest, ascending. Model outputs are for the unlabeled positions.
    """

    embeddings: np.ndarray
    labeled: np.ndarray
    unlabeled: np.ndarray
    n_classes: int
    # the simulation's round, 0 for the first purchase after the initial set; None for a one-off
    # pick (al_bench.select, a project query), which has no rounds: see in_cold_start
    round: int | None
    model: ModelAccess | None = field(default=None, repr=False)
    # () → (squared distance (P,), nearest labeled position (P,)); kept up to date by the loop
    distances: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)
    # the run's memo of embedding-only values (the loop keeps one per run); None: nothing kept
    memo: RunMemo | None = field(default=None, repr=False)
    # what a strategy that chooses among others decided this round (:meth:`decide`); the loop
    # writes them to decisions.csv, a one-off pick to its params
    decisions: list = field(default_factory=list, repr=False, compare=False)
    # the labels bought so far: class codes (0 … C−1) of ``labeled``, in its order; None where the
    # caller has none (a pick from model outputs alone). Never any other item's label.
    labels: np.ndarray | None = field(default=None, repr=False, compare=False)
    # inputs of the distribution the model will serve that are not pool items (rows the head
    # reads): the calibration split's in the simulation, a target folder's in a selection; None
    # where there are none. Never their labels.
    target: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("embeddings", "labeled", "unlabeled", "labels", "target"):
            if getattr(self, name) is None:
                continue
            frozen = np.asarray(getattr(self, name)).view()  # a view: the caller's array keeps its flags
            frozen.flags.writeable = False
            object.__setattr__(self, name, frozen)
        if self.labels is not None and self.labels.shape != self.labeled.shape:
            raise ValueError(f"labels must be one per labeled item: {self.labels.shape} vs {self.labeled.shape}")

    def decide(self, candidate: str, reason: str) -> None:
        """Record that this round's picks come from strategy ``candidate``, and why."""
        self.decisions.append({"candidate": str(candidate), "reason": str(reason)})

    def in_cold_start(self, cold_rounds: int) -> bool:
        """Whether a strategy whose first ``cold_rounds`` rounds are a cold start (too few labels
        to trust the model) is in it: in the simulation, the round number says; a one-off pick
        is cold exactly when it has no model outputs."""
        if self.round is None:
            return self.model is None
        return self.round < int(cold_rounds)

    def _need_model(self) -> ModelAccess:
        if self.model is None:
            raise RuntimeError("this strategy needs model outputs, but the view carries no model")
        return self.model

    def probs(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Calibrated class probabilities of the unlabeled items (or of pool ``positions``, e.g.
        the labeled ones). (U, C)"""
        return self._need_model().probs(self.unlabeled if positions is None else positions)

    def mc_probs(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """K MC-dropout samples of class probabilities of the unlabeled items. (K, U, C)

        The dropout masks are drawn from a seed taken from ``rng``, so the samples are as
        reproducible as every other random choice of the strategy.
        """
        return self._need_model().mc_probs(self.unlabeled, k, int(rng.integers(2**63)))

    def mc_probs_with_target(self, k: int, rng: np.random.Generator, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, U, C) MC-dropout samples of the unlabeled items and (K, T, C) of ``target[rows]``,
        from the same K passes (one seed drawn from ``rng``, as in :meth:`mc_probs`)."""
        model = self._need_model()
        run = getattr(model, "mc_probs_inputs", None)
        if run is None:
            from ..errors import UserError

            raise UserError(f"the model outputs given here ({type(model).__name__}) cannot score held-out inputs")
        seed = int(rng.integers(2**63))
        return model.mc_probs(self.unlabeled, k, seed), run(self.target[np.asarray(rows)], k, seed)

    def bald(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """BALD mutual information of the unlabeled items over K MC-dropout passes. (U,)

        The model computes it, fused into the passes where it can (bounded memory); the passes'
        seed is drawn from ``rng`` as in :meth:`mc_probs`, so both give the same samples.
        """
        return self._need_model().bald_scores(self.unlabeled, k, int(rng.integers(2**63)))

    def feature_dropout_probs(self, m: int, rate: float, rng: np.random.Generator) -> np.ndarray:
        """Class probabilities of the unlabeled items under ``m`` passes of dropout at ``rate`` on
        the inputs of the head's last layer, a fresh mask per item and pass. (M, U, C)

        The masks are drawn from a seed taken from ``rng``, as in :meth:`mc_probs`. Model outputs
        that cannot run the head (e.g. predictions given as arrays) fail with a
        :class:`~al_bench.errors.UserError`.
        """
        model = self._need_model()
        run = getattr(model, "feature_dropout_probs", None)
        if run is None:
            from ..errors import UserError

            raise UserError(f"this strategy runs dropout passes through the head itself; the model outputs given "
                            f"here ({type(model).__name__}) cannot")
        return run(self.unlabeled, int(m), float(rate), int(rng.integers(2**63)))

    def labeled_distances(self, positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(d float32, near int64): squared embedding distance of every pool item (or of
        ``positions`` only) to its nearest labeled item, and that item's position. Taken from the
        loop when it keeps them, else computed here for the rows asked for."""
        if self.distances is not None:
            d, near = self.distances()
            if positions is not None:
                d, near = d[positions], near[positions]
        else:
            rows = np.arange(len(self.embeddings)) if positions is None else np.asarray(positions, np.int64)
            if self.labeled.size == 0:  # nothing labeled yet (a cold start on real data)
                d, near = np.full(rows.size, np.inf, np.float32), np.full(rows.size, -1, np.int64)
            else:
                from ..kernels.distances import nearest_center

                # every row: the embeddings themselves (a memory map is read by block, not gathered whole)
                x = self.embeddings if positions is None else self.embeddings[rows]
                d, j = nearest_center(x, np.asarray(self.embeddings[self.labeled], np.float32))
                near = self.labeled[j]
        d, near = np.asarray(d).view(), np.asarray(near).view()
        d.flags.writeable = near.flags.writeable = False
        return d, near

    def cached(self, key: tuple, compute: Callable[[np.random.Generator], object], rng: np.random.Generator):
        """``compute(g)`` for a value that depends on the embeddings (and ``key``) alone, e.g. a
        clustering of the whole pool. With the run's :class:`RunMemo` it is computed once per
        run, ``g`` a stream of the run seed and ``key``; without one (a single selection) it is
        computed now with ``g = rng``."""
        if self.memo is None:
            return compute(rng)
        return self.memo.get(key, compute)

    def gradient_factors(self, positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(a (U, C), x (U, d+1)): last-layer gradient of item i is a_i ⊗ x_i; of the unlabeled
        items, or of pool ``positions``."""
        return self._need_model().gradient_factors(self.unlabeled if positions is None else positions)
