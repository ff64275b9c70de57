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
- optionally ``reads_labels=True``: it reads ``view.labels`` (the labels bought so far), so a
  caller with a model passes the labeled items' labels too (a project does);
- optionally ``param_ranges={"k": (2, 1000)}``: the allowed closed range of a numeric
  parameter. Every parameter's type is its default's (an ``int`` default takes integers only,
  a ``float`` one any finite number); :func:`check_param_values` checks both before any job
  runs, so ``k=0``, ``k=abc`` or ``k=1e8`` fail in one line instead of inside the run.

Its keyword parameters with defaults are its ``strategy.params``; nothing else is edited to
add one.

The package's own code sits in ``_``-named modules, which discovery skips (every other module
is a strategy): :mod:`._base` (the view), :mod:`._registry` (:data:`STRATEGIES`,
:func:`register`, what the metadata says), :mod:`._params` (checks of parameters and sampling),
:mod:`._select` (:func:`run_strategy`, :func:`select_batch`), :mod:`._sampling`, :mod:`._balance`
(``strategy.class_balance``: :func:`balanced_batch`, :func:`sub_view`). Import from
this package, not from them.
"""

from __future__ import annotations

from ._balance import CLASS_BALANCE, balanced_batch, sub_view
from ._base import MODEL_OUTPUTS, ModelAccess, PoolView, RunMemo
from ._params import check_param_values, check_params, check_sampling
from ._registry import REGISTRY, STRATEGIES, features_only, needs_model, reads_features, register, samples_scores, strategy_params
from ._sampling import SAMPLINGS, sequential_probabilities
from ._select import run_strategy, select_batch

__all__ = ["STRATEGIES", "REGISTRY", "PoolView", "ModelAccess", "RunMemo", "register", "select_batch", "check_params",
           "strategy_params", "check_param_values", "run_strategy", "needs_model", "reads_features", "MODEL_OUTPUTS",
           "SAMPLINGS", "samples_scores", "check_sampling", "features_only", "CLASS_BALANCE", "balanced_batch",
           "sub_view", "sequential_probabilities"]
