"""Model outputs for a :class:`~al_bench.strategies.PoolView` in :func:`al_bench.select`: the
``ModelAccess`` protocol served from arrays the caller gave, or from a head trained on first use."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UserError
from ..heads import gradient_factors
from ..scores import bald

__all__ = ["GivenOutputs"]


class GivenOutputs:
    """Probabilities (N, C) and optionally MC-dropout samples (K, N, C), one row per pool
    position; or, with ``train_head``, a head that ``train_head()`` fits on first use, so a
    strategy that never asks for model outputs trains nothing."""

    def __init__(self, x: np.ndarray, probs: np.ndarray | None, mc: np.ndarray | None,
                 train_head: Callable[[], object] | None = None) -> None:
        self.x, self._probs, self._mc, self._train = x, probs, mc, train_head
        self._head = None

    @property
    def head(self):
        if self._head is None and self._train is not None:
            self._head = self._train()
        return self._head

    @property
    def head_trained(self) -> bool:
        return self._head is not None

    def probs(self, positions: np.ndarray) -> np.ndarray:
        if self._train is not None:
            return self.head.predict_proba(self.x[positions])
        return self._probs[positions]

    def mc_probs(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        """K samples: drawn from the trained head, else the given ones (all K of them, whatever ``k``)."""
        if self._train is not None:
            return self.head.sample_proba(self.x[positions], k, seed)
        if self._mc is not None:
            return self._mc[:, positions]
        raise UserError("this strategy needs MC-dropout samples: give probs of shape (K, N, C) "
                        "(K stochastic passes), or labels to train a head here")

    def mc_probs_inputs(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        """K samples of inputs outside the pool, from the head trained here (same seed, same passes
        as :meth:`mc_probs`); given predictions cannot score them."""
        if self._train is None:
            raise UserError("held-out target inputs are scored by a head trained here: give the labeled items' "
                            "labels instead of predictions")
        return self.head.sample_proba(x, k, seed)

    def bald_scores(self, positions: np.ndarray, k: int, seed: int) -> np.ndarray:
        return bald(self.mc_probs(positions, k, seed))

    def feature_dropout_probs(self, positions: np.ndarray, m: int, rate: float, seed: int) -> np.ndarray:
        """``m`` passes of the head trained here with input dropout at ``rate`` (DropQuery); given
        predictions cannot be re-run on perturbed features."""
        if self._train is None:
            raise UserError("this strategy runs dropout passes through a head trained here: give the labeled "
                            "items' labels instead of predictions")
        return self.head.feature_dropout_proba(self.x[positions], m, rate, seed)

    def gradient_factors(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p − onehot(ŷ), [x, 1]) of a linear layer on the features with the given probabilities,
        as the simulation's head has; the first factor in the probabilities' own precision."""
        if self._train is not None:
            return self.head.gradient_factors(self.x[positions])
        p = self._probs[positions]
        a, xb = gradient_factors(p, self.x[positions])
        return a.astype(p.dtype, copy=False), xb
