"""Strategy registry. A strategy is a pure function ``(view, n, rng, **params) → pool positions``.

It returns ``n`` distinct positions from ``view.unlabeled``, most wanted first, and touches
nothing else: no state between calls, no mutation of the view, randomness only from ``rng``.
Model outputs (probabilities, MC samples, gradient factors) are asked for through the view,
so the loop never needs to know which strategy it runs. Each strategy lives in its own module
whose name is the registry key, the ``conf/strategy/<name>.yaml`` stem and the results value.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..errors import UserError

__all__ = ["PoolView", "REGISTRY", "register", "select_batch", "check_params", "strategy_params"]


class ModelAccess(Protocol):
    """What the loop offers about the current head, computed on demand."""

    def probs(self, positions: np.ndarray) -> np.ndarray: ...  # (n, C), temperature-scaled

    def mc_probs(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray: ...  # (K, n, C)

    def gradient_factors(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    # optional: bald_scores(positions, k, seed) -> (n,), BALD fused into the MC passes


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
    round: int  # 0 for the first purchase after the initial set
    model: ModelAccess | None = field(default=None, repr=False)
    # () → (squared distance (P,), nearest labeled position (P,)); kept up to date by the loop
    distances: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("embeddings", "labeled", "unlabeled"):
            frozen = np.asarray(getattr(self, name)).view()  # a view: the caller's array keeps its flags
            frozen.flags.writeable = False
            object.__setattr__(self, name, frozen)

    def _need_model(self) -> ModelAccess:
        if self.model is None:
            raise RuntimeError("this strategy needs model outputs, but the view carries no model")
        return self.model

    def probs(self) -> np.ndarray:
        """Calibrated class probabilities of the unlabeled items. (U, C)"""
        return self._need_model().probs(self.unlabeled)

    def mc_probs(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """K MC-dropout samples of class probabilities of the unlabeled items. (K, U, C)

        The dropout masks are drawn from a seed taken from ``rng``, so the samples are as
        reproducible as every other random choice of the strategy.
        """
        return self._need_model().mc_probs(self.unlabeled, k, int(rng.integers(2**63)))

    def bald(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """BALD mutual information of the unlabeled items over K MC-dropout passes. (U,)

        Fused into the passes when the model offers ``bald_scores`` (bounded memory); else
        computed from :meth:`mc_probs`. Both draw the passes' seed from ``rng`` the same way,
        so they give the same scores.
        """
        model = self._need_model()
        if hasattr(model, "bald_scores"):
            return model.bald_scores(self.unlabeled, k, int(rng.integers(2**63)))
        from ..scores import bald

        return bald(self.mc_probs(k, rng))

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
                from ..selectors import nearest_center

                d, j = nearest_center(self.embeddings[rows], self.embeddings[self.labeled])
                near = self.labeled[j]
        d, near = np.asarray(d).view(), np.asarray(near).view()
        d.flags.writeable = near.flags.writeable = False
        return d, near

    def gradient_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """(a (U, C), x (U, d+1)): last-layer gradient of item i is a_i ⊗ x_i."""
        return self._need_model().gradient_factors(self.unlabeled)


Strategy = Callable[..., np.ndarray]
REGISTRY: dict[str, Strategy] = {}


def register(name: str) -> Callable[[Strategy], Strategy]:
    """Register a strategy under ``name`` (must equal its module and YAML name)."""

    def deco(fn: Strategy) -> Strategy:
        if name in REGISTRY:
            raise RuntimeError(f"strategy {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return deco


def strategy_params(name: str) -> dict[str, object]:
    """The tunable keyword parameters of strategy ``name`` with their defaults."""
    sig = inspect.signature(REGISTRY[name])
    return {p.name: p.default for p in list(sig.parameters.values())[3:]}


def check_params(name: str, params: dict) -> None:
    """Fail, naming the allowed values, on an unknown strategy or parameter."""
    if name not in REGISTRY:
        raise UserError(f"strategy: unknown '{name}'; choose one of {sorted(REGISTRY)}")
    allowed = strategy_params(name)
    for key in params:
        if key not in allowed:
            raise UserError(f"strategy.params.{key}: not a parameter of '{name}'; allowed: {sorted(allowed) or 'none'}")


def select_batch(
    name: str,
    view: PoolView,
    n: int,
    rng: np.random.Generator,
    random_fraction: float = 0.0,
    params: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run strategy ``name`` for ``n`` picks, ``round(random_fraction · n)`` of them uniform.

    Returns (positions (n,), by_strategy (n,) bool: False for the uniform random share).
    Checks the strategy's answer, so a broken strategy fails loudly instead of skewing a curve.
    """
    params = dict(params or {})
    check_params(name, params)
    n = int(n)
    if not 0 < n <= view.unlabeled.size:
        raise ValueError(f"cannot buy {n} labels: {view.unlabeled.size} unlabeled left")
    n_random = int(round(random_fraction * n))
    n_strategy = n - n_random
    picks = np.empty(0, np.int64)
    if n_strategy > 0:
        picks = np.asarray(REGISTRY[name](view, n_strategy, rng, **params), dtype=np.int64)
        _check_picks(name, picks, n_strategy, view.unlabeled)
    if n_random > 0:
        rest = np.setdiff1d(view.unlabeled, picks, assume_unique=True)
        picks = np.concatenate([picks, rng.choice(rest, size=n_random, replace=False)])
    by_strategy = np.arange(n) < n_strategy
    return picks, by_strategy


def _check_picks(name: str, picks: np.ndarray, n: int, unlabeled: np.ndarray) -> None:
    problem = None
    if picks.shape != (n,):
        problem = f"returned shape {picks.shape}, expected ({n},)"
    elif np.unique(picks).size != n:
        problem = "returned duplicate positions"
    elif not np.isin(picks, unlabeled).all():
        problem = "returned positions that are not unlabeled"
    if problem:
        raise RuntimeError(f"strategy {name!r} {problem}")


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_load_all()
