"""Running a strategy: :func:`run_strategy` (one checked call, top-k or a stochastic draw
from its pool scores) and :func:`select_batch` (the batch of a round, with its uniform random
share)."""

from __future__ import annotations

import numpy as np

from ._base import PoolView
from ._params import check_param_values, check_sampling
from ._registry import STRATEGIES
from ._sampling import gumbel_top_k, log_weights, sequential_probabilities

__all__ = ["run_strategy", "select_batch"]


def run_strategy(name: str, view: PoolView, n: int, rng: np.random.Generator,
                 params: dict | None = None, sampling: str = "topk",
                 beta: float = 1.0, acquisition: list | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(positions (n,), the strategy's own scores (n,) or None) from one call, checked.

    With ``sampling`` other than ``topk`` the strategy's ``pool_scores`` are computed and n
    items drawn from them by Gumbel-top-k (:mod:`al_bench.strategies._sampling`), all from
    ``rng``; the scores returned are the strategy's own (not the weights). ``acquisition``: a list
    extended with each pick's probability of being drawn among the items left at its turn — known
    for a stochastic draw and a strategy registered ``uniform=True``; NaN for a top-k pick."""
    params = params or {}
    if sampling == "topk":
        out = STRATEGIES[name](view, n, rng, **params)
        picks, scores = (out if isinstance(out, tuple) else (out, None))
    else:
        check_sampling(name, sampling, beta)
        pool = np.asarray(STRATEGIES.entry(name).pool_scores(view, rng, **params), np.float64)
        if pool.shape != view.unlabeled.shape:
            raise RuntimeError(f"strategy {name!r}: pool_scores returned shape {pool.shape}, "
                               f"expected {view.unlabeled.shape}")
        lw = log_weights(pool, sampling, beta)
        idx = gumbel_top_k(lw, n, rng)
        picks, scores = view.unlabeled[idx], pool[idx]
        if acquisition is not None:
            acquisition.extend(sequential_probabilities(lw, idx).tolist())
    picks = np.asarray(picks, dtype=np.int64)
    _check_picks(name, picks, n, view.unlabeled)
    if acquisition is not None and sampling == "topk":
        uniform = STRATEGIES.entry(name).meta.get("uniform", False)
        acquisition.extend((1.0 / (view.unlabeled.size - np.arange(n))).tolist() if uniform else [np.nan] * n)
    if scores is not None:
        scores = np.asarray(scores, np.float64)
        if scores.shape != (n,):
            raise RuntimeError(f"strategy {name!r} returned scores of shape {scores.shape}, expected ({n},)")
    return picks, scores


def select_batch(
    name: str,
    view: PoolView,
    n: int,
    rng: np.random.Generator,
    random_fraction: float = 0.0,
    params: dict | None = None,
    with_scores: bool = False,
    sampling: str = "topk",
    beta: float = 1.0,
    checked: bool = False,
    acquisition: list | None = None,
):
    """Run strategy ``name`` for ``n`` picks, ``round(random_fraction · n)`` of them uniform.

    Returns (positions (n,), by_strategy (n,) bool: False for the uniform random share), and
    with ``with_scores`` also the strategy's scores of its own picks (NaN for the random share;
    None when it returned none). Checks the strategy's answer, so a broken strategy fails
    loudly instead of skewing a curve. ``sampling``/``beta``: top-k (the default) or a
    stochastic batch drawn from the strategy's scores of every candidate (:func:`run_strategy`).
    ``checked``: the name, parameters and sampling were checked once already
    (:func:`al_bench.picking.request.check_request`), so a round does not check them again.
    ``acquisition``: a list extended with each pick's sequential draw probability (see
    :func:`run_strategy`; the random share's are uniform over what is left).
    """
    params = dict(params or {})
    if not checked:
        check_param_values(name, params)
        check_sampling(name, sampling, beta)
    n = int(n)
    if not 0 < n <= view.unlabeled.size:
        raise ValueError(f"cannot buy {n} labels: {view.unlabeled.size} unlabeled left")
    n_random = int(round(random_fraction * n))
    n_strategy = n - n_random
    picks, scores = np.empty(0, np.int64), None
    if n_strategy > 0:
        picks, scores = run_strategy(name, view, n_strategy, rng, params, sampling, beta, acquisition)
    if n_random > 0:
        rest = np.setdiff1d(view.unlabeled, picks, assume_unique=True)
        picks = np.concatenate([picks, rng.choice(rest, size=n_random, replace=False)])
        if acquisition is not None:
            acquisition.extend((1.0 / (rest.size - np.arange(n_random))).tolist())
        if scores is not None:
            scores = np.concatenate([scores, np.full(n_random, np.nan)])
    by_strategy = np.arange(n) < n_strategy
    return (picks, by_strategy, scores) if with_scores else (picks, by_strategy)


def _check_picks(name: str, picks: np.ndarray, n: int, unlabeled: np.ndarray) -> None:
    """Fail loudly on a strategy answer that is not n distinct unlabeled positions."""
    problem = None
    if picks.shape != (n,):
        problem = f"returned shape {picks.shape}, expected ({n},)"
    elif np.unique(picks).size != n:
        problem = "returned duplicate positions"
    elif not np.isin(picks, unlabeled).all():
        problem = "returned positions that are not unlabeled"
    if problem:
        raise RuntimeError(f"strategy {name!r} {problem}")
