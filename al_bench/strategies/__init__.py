"""Strategies: one module each, registered by name; the name is also the
``al_bench/conf/strategy/<name>.yaml`` stem and the ``strategy`` value in every results file.

A strategy is a pure function ``(view, n, rng, **params) → positions`` or ``(positions,
scores)`` (see :mod:`al_bench.strategies._base`). It declares, when registering:

- ``needs``: what it reads — ``probs`` (calibrated probabilities), ``mc`` (MC-dropout samples or
  BALD), ``grad`` (last-layer gradient factors), ``features`` (embeddings). Callers derive from
  this whether model outputs or an embedding must be supplied.
- ``score``: what the per-pick score means (``al_bench.select`` reports it), or ``None``;
- optionally ``pick_scores(view, picks) → (n,)``: the score of given picks, computed only
  when asked for (when it costs extra work the loop does not need);
- optionally ``cold_start=True``: without model outputs (a view in round 0 with no model) it
  picks on the embeddings alone, so callers need not supply outputs;
- optionally ``pool_scores(view, rng, **params) → (U,)``: the per-point score of *every*
  unlabeled item (``view.unlabeled`` order; higher = more wanted) that the strategy's top-k
  ranks, drawing from ``rng`` exactly what the strategy draws before its top-k. A strategy that
  declares it takes ``strategy.sampling`` other than ``topk`` (stochastic batch acquisition,
  :mod:`al_bench.strategies._sampling`); the others refuse it;
- optionally ``param_ranges={"k": (2, 1000)}``: the allowed closed range of a numeric
  parameter. Every parameter's type is its default's (an ``int`` default takes integers only,
  a ``float`` one any finite number); :func:`check_param_values` checks both before any job
  runs, so ``k=0``, ``k=abc`` or ``k=1e8`` fail in one line instead of inside the run.

Its keyword parameters with defaults are its ``strategy.params``; nothing else is edited to
add one.
"""

from __future__ import annotations

from typing import Any

import math
import numbers

import numpy as np


from ..errors import UserError
from ..registry import Registry
from ._base import MODEL_OUTPUTS, NEEDS, ModelAccess, PoolView, RunMemo
from ._sampling import SAMPLINGS, gumbel_top_k, log_weights

__all__ = ["STRATEGIES", "REGISTRY", "PoolView", "ModelAccess", "RunMemo", "register", "select_batch", "check_params",
           "strategy_params", "check_param_values", "run_strategy", "needs_model", "reads_features", "MODEL_OUTPUTS",
           "SAMPLINGS", "samples_scores", "check_sampling", "features_only"]

STRATEGIES: Registry = Registry("strategy", package=__name__, key="strategy", required=("needs", "score"),
                                option_word="parameter")
REGISTRY = STRATEGIES  # the name earlier code and notebooks use


def register(name: str, *, needs: set[str] | frozenset[str], score: str | None,
             param_ranges: dict[str, tuple[float, float]] | None = None, **meta: Any):
    """Register a strategy under ``name`` (its module, YAML and results name)."""
    bad = set(needs) - NEEDS
    if bad:
        raise TypeError(f"strategy {name!r}: unknown needs {sorted(bad)}; choose from {sorted(NEEDS)}")
    ranges = dict(param_ranges or {})
    for key, (lo, hi) in ranges.items():
        if not lo <= hi:
            raise TypeError(f"strategy {name!r}: empty range {(lo, hi)} for parameter {key!r}")
    if meta.get("pool_scores") is not None and not callable(meta["pool_scores"]):
        raise TypeError(f"strategy {name!r}: pool_scores must be callable (view, rng, **params) → (U,)")
    inner = STRATEGIES.register(name, needs=frozenset(needs), score=score, param_ranges=ranges, **meta)

    def deco(obj):
        out = inner(obj)
        unknown = set(ranges) - set(STRATEGIES.options(name))
        if unknown:
            STRATEGIES.unregister(name)
            raise TypeError(f"strategy {name!r}: param_ranges for {sorted(unknown)}, which are not its parameters")
        return out

    return deco


def strategy_params(name: str) -> dict[str, object]:
    """The tunable keyword parameters of strategy ``name`` with their defaults."""
    return STRATEGIES.options(name)


def check_params(name: str, params: dict) -> None:
    """Fail, naming the allowed values, on an unknown strategy or parameter."""
    STRATEGIES.check_options(name, params, prefix="strategy.params")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_param_values(name: str, params: dict) -> None:
    """Fail in one line naming ``strategy.params.<key>`` on a parameter value of the wrong type
    (its default's: integers for an ``int`` default), not finite, or outside the range the
    strategy declares (``param_ranges``). Unknown parameters fail too (:func:`check_params`)."""
    check_params(name, params)
    entry = STRATEGIES.entry(name)
    ranges = entry.meta.get("param_ranges") or {}
    for key, value in params.items():
        default = entry.options[key]
        lo, hi = ranges.get(key, (None, None))
        span = f" in [{_fmt(lo)}, {_fmt(hi)}]" if lo is not None else ""
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise UserError(f"got {value!r}; must be true or false", key=f"strategy.params.{key}")
            continue
        if isinstance(default, numbers.Integral):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise UserError(f"got {value!r}; must be an integer{span}", key=f"strategy.params.{key}")
        elif isinstance(default, numbers.Real):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise UserError(f"got {value!r}; must be a finite number{span}", key=f"strategy.params.{key}")
        else:
            continue
        if lo is not None and not lo <= value <= hi:
            raise UserError(f"got {value!r}; must be {'an integer' if isinstance(default, numbers.Integral) else 'a number'}"
                            f"{span}", key=f"strategy.params.{key}")


def samples_scores(name: str) -> bool:
    """Whether strategy ``name`` scores every unlabeled item (declares ``pool_scores``), so that
    ``strategy.sampling`` other than ``topk`` applies to it."""
    return STRATEGIES.entry(name).meta.get("pool_scores") is not None


def check_sampling(name: str, sampling: str = "topk", beta: float = 1.0) -> None:
    """Fail in one line naming ``strategy.sampling`` or ``strategy.beta``: an unknown sampling,
    a β that is not a finite number ≥ 0, a β other than 1 with ``topk`` (where it does nothing),
    or a stochastic sampling for a strategy that does not score every candidate."""
    if sampling not in SAMPLINGS:
        raise UserError(f"got {sampling!r}; choose one of {list(SAMPLINGS)}", key="strategy.sampling")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta) or beta < 0:
        raise UserError(f"got {beta!r}; must be a finite number >= 0", key="strategy.beta")
    if sampling == "topk":
        if beta != 1.0:
            raise UserError(f"{_fmt(beta)} does nothing with strategy.sampling=topk; leave it at 1 or choose "
                            f"one of {list(SAMPLINGS[1:])}", key="strategy.beta")
        return
    if not samples_scores(name):
        able = [e.name for e in STRATEGIES.entries() if e.meta.get("pool_scores") is not None]
        raise UserError(f"{sampling!r} needs a strategy that scores every candidate, and {name!r} does not; "
                        f"it applies to {able}, else use topk", key="strategy.sampling")


def features_only(name: str) -> bool:
    """Whether strategy ``name`` reads nothing but the embeddings (no model outputs): it can
    pick the initial labeled set (``budget.initial_strategy``)."""
    return STRATEGIES.entry(name).needs <= {"features"}


def run_strategy(name: str, view: PoolView, n: int, rng: np.random.Generator,
                 params: dict | None = None, sampling: str = "topk",
                 beta: float = 1.0) -> tuple[np.ndarray, np.ndarray | None]:
    """(positions (n,), the strategy's own scores (n,) or None) from one call, checked.

    With ``sampling`` other than ``topk`` the strategy's ``pool_scores`` are computed and n
    items drawn from them by Gumbel-top-k (:mod:`al_bench.strategies._sampling`), all from
    ``rng``; the scores returned are the strategy's own (not the weights)."""
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
        idx = gumbel_top_k(log_weights(pool, sampling, beta), n, rng)
        picks, scores = view.unlabeled[idx], pool[idx]
    picks = np.asarray(picks, dtype=np.int64)
    _check_picks(name, picks, n, view.unlabeled)
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
):
    """Run strategy ``name`` for ``n`` picks, ``round(random_fraction · n)`` of them uniform.

    Returns (positions (n,), by_strategy (n,) bool: False for the uniform random share), and
    with ``with_scores`` also the strategy's scores of its own picks (NaN for the random share;
    None when it returned none). Checks the strategy's answer, so a broken strategy fails
    loudly instead of skewing a curve. ``sampling``/``beta``: top-k (the default) or a
    stochastic batch drawn from the strategy's scores of every candidate (:func:`run_strategy`).
    """
    params = dict(params or {})
    check_param_values(name, params)
    check_sampling(name, sampling, beta)
    n = int(n)
    if not 0 < n <= view.unlabeled.size:
        raise ValueError(f"cannot buy {n} labels: {view.unlabeled.size} unlabeled left")
    n_random = int(round(random_fraction * n))
    n_strategy = n - n_random
    picks, scores = np.empty(0, np.int64), None
    if n_strategy > 0:
        picks, scores = run_strategy(name, view, n_strategy, rng, params, sampling, beta)
    if n_random > 0:
        rest = np.setdiff1d(view.unlabeled, picks, assume_unique=True)
        picks = np.concatenate([picks, rng.choice(rest, size=n_random, replace=False)])
        if scores is not None:
            scores = np.concatenate([scores, np.full(n_random, np.nan)])
    by_strategy = np.arange(n) < n_strategy
    return (picks, by_strategy, scores) if with_scores else (picks, by_strategy)


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


def needs_model(name: str) -> bool:
    """Whether strategy ``name`` asks for model outputs (probabilities, MC samples, gradients)."""
    return bool(STRATEGIES.entry(name).needs & MODEL_OUTPUTS)


def reads_features(name: str) -> bool:
    """Whether strategy ``name`` reads the embeddings (given the model outputs it needs)."""
    return bool(STRATEGIES.entry(name).needs & {"features", "grad"})



