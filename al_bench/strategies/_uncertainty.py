"""Shared body of the top-k uncertainty strategies."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..kernels.topk import top_k


def pick_most_uncertain(view, n: int, rng: np.random.Generator, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The ``n`` unlabeled positions with the highest ``score(probs)``; ties broken by ``rng``."""
    return view.unlabeled[top_k(score(view.probs()), n, rng)]


def scores_of(score: Callable[[np.ndarray], np.ndarray]):
    """``pick_scores(view, picks)`` for an uncertainty score: ``score`` of the picks' probabilities."""
    return lambda view, picks: score(view.model.probs(picks))


def all_scores(score: Callable[[np.ndarray], np.ndarray]):
    """``pool_scores(view, rng)`` for an uncertainty score: ``score`` of every unlabeled item, (U,)."""
    return lambda view, rng: score(view.probs())
