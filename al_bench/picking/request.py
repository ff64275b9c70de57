"""One front door for picking: a :class:`SelectionRequest`, checked once by :func:`check_request`.

Every caller that picks builds one and checks it once: the simulation (once per run, before
its rounds), :func:`al_bench.select`, ``al-bench-select`` (folder and ``--project``, before any
image is read), :meth:`LabelingProject.query <al_bench.labeling.LabelingProject.query>` and the
app's next batch. The checks say what is wrong in one line whose keys each caller words its own
way (:meth:`al_bench.errors.UserError.worded`: the command names ``--random-fraction`` where the
library says ``random_fraction``).

The data side has one helper each: :func:`candidates` (which ids are labeled and which may be
picked) and :func:`count` (how many to pick: ``n``, or ``total`` minus the labeled set).

Random streams (:func:`al_bench.rng.stream`), one name per caller, so any pick can be replayed:

============================================  =====================================
caller                                        stream
============================================  =====================================
the simulation, round ``r``                   ``stream(seed, "select", r)``
``al_bench.select`` / ``select_top`` / a       ``stream(seed, "pick")``
folder's ``al-bench-select`` (``--seed``),
a project query given a seed
a project query ``k`` without a seed           ``stream(project_seed, "query", k)``
============================================  =====================================

A selection records the stream it used (``params["rng"]``), e.g.
``al_bench.rng.stream(0, 'query', 3)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = ["SelectionRequest", "OUTPUT_SOURCES", "STOPPING", "CONFIG_KEYS", "check_request", "candidates", "count",
           "stream_name"]

STOPPING = "kcenter"  # the strategy whose picks come in non-increasing distance: min_distance stops it
# where a request's model outputs come from: given probabilities, given MC-dropout samples, a
# head trained here on given labels, or a fitted model; None: no model outputs at all
OUTPUT_SOURCES = ("probs", "mc", "labels", "model")
# a request's keys as a run's config names them (the simulation's words for check_request's errors)
CONFIG_KEYS = {"strategy": "strategy.name", "random_fraction": "strategy.random_fraction",
               "sampling": "strategy.sampling", "beta": "strategy.beta", "seed": "seed",
               "class_balance": "strategy.class_balance"}


@dataclass(frozen=True)
class SelectionRequest:
    """What to pick, before any data is read.

    - ``strategy`` and ``params``: a registered strategy (:data:`al_bench.strategies.STRATEGIES`)
      and its parameters;
    - ``n`` (how many) or ``total`` (the labeled set's size after the pick): at most one; neither
      for the simulation, whose rounds each say how many;
    - ``random_fraction``: share of the batch drawn uniformly; ``min_distance``: the k-center
      stop (Euclidean, embedding units); ``sampling`` / ``beta``: top-k or a stochastic draw
      from the strategy's scores;
    - ``seed`` and ``stream``: the random stream, ``al_bench.rng.stream(seed, *stream)`` (the
      module docstring names each caller's);
    - ``outputs``: where model outputs come from (:data:`OUTPUT_SOURCES`, or None);
    - ``round``: the simulation's round number (a strategy's ``cold_rounds`` count these); None
      for a one-off pick, which is in its cold start exactly when it has no model outputs;
    - ``class_balance``: ``none``, ``fallback`` or ``predicted`` (:mod:`al_bench.strategies._balance`):
      they read the labeled items' labels and the model's predictions.
    - ``sample``: run the strategy on this many candidates drawn uniformly from the request's
      stream (tag ``"sample"``; every labeled item kept): the approximate mode for pools whose
      exact pick does not fit the time or memory at hand (``bench/fleet_scale.py`` measures what
      it costs in k-center's covering radius).
    """

    strategy: str = STOPPING
    n: int | None = None
    total: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    random_fraction: float = 0.0
    min_distance: float | None = None
    sampling: str = "topk"
    beta: float = 1.0
    seed: int = 0
    stream: tuple[str | int, ...] = ("pick",)
    outputs: str | None = None
    round: int | None = None
    class_balance: str = "none"
    # the approximate mode for pools too large to pick from exactly: the strategy runs on this
    # many candidates drawn uniformly (stream tag "sample"), every labeled item kept; None: all
    sample: int | None = None
    checked: bool = field(default=False, compare=False, repr=False)  # set by check_request only

    def rng(self, *tags: str | int) -> np.random.Generator:
        """The request's random stream (more ``tags`` appended, e.g. the simulation's round)."""
        from ..rng import stream

        return stream(self.seed, *self.stream, *tags)

    def n_random(self, n: int) -> int:
        """How many of ``n`` picks are drawn uniformly."""
        return int(round(self.random_fraction * int(n)))


def stream_name(seed: int, tags: Sequence[str | int]) -> str:
    """How a selection records its stream: the call that gives it back."""
    return f"al_bench.rng.stream({int(seed)}, {', '.join(repr(t) for t in tags)})"


def _whole(value: Any, key: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < lo:
        raise UserError(f"got {value!r}; give a whole number >= {lo}", key=key)
    return int(value)


def check_request(req: SelectionRequest) -> SelectionRequest:
    """``req`` checked and normalized (parameters typed as given, numbers as Python numbers,
    ``checked`` set); a :class:`UserError` naming the key otherwise. Needs no data, so a
    mistake never costs an embedding: the strategy and its parameters (names, types, declared
    ranges), the sampling, n or total, the random share, the k-center stop, the seed, and
    whether the strategy can run on the model outputs the request will have."""
    from ..strategies import STRATEGIES, check_param_values, check_sampling, needs_model

    if req.strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {req.strategy!r}; choose one of {', '.join(sorted(STRATEGIES))}",
                        key="strategy")
    params = dict(req.params)
    check_param_values(req.strategy, params)
    check_sampling(req.strategy, req.sampling, req.beta)
    if req.n is not None and req.total is not None:
        raise UserError("give n (how many to pick) or total (the labeled set's size after the pick), not both",
                        key="n")
    n = None if req.n is None else _whole(req.n, "n", 1)
    total = None if req.total is None else _whole(req.total, "total", 1)
    rf = req.random_fraction
    if isinstance(rf, bool) or not isinstance(rf, numbers.Real) or not (0.0 <= float(rf) <= 1.0):  # NaN fails too
        raise UserError(f"got {rf!r}; give a share of the batch in [0, 1]", key="random_fraction")
    rf = float(rf)
    md = req.min_distance
    if md is not None:
        if isinstance(md, bool) or not isinstance(md, numbers.Real) or not (0.0 <= float(md) < math.inf):
            raise UserError(f"got {md!r}; give a distance >= 0", key="min_distance")
        if req.strategy != STOPPING:
            raise UserError(f"is a k-center stop; strategy {req.strategy!r} has no such criterion", key="min_distance")
        if rf > 0:
            raise UserError("stops k-center early; it cannot be combined with a random share ({random_fraction} > 0)",
                            key="min_distance", refs={"random_fraction": "random_fraction"})
        md = float(md)
    seed = _whole(req.seed, "seed", 0)
    sample = None if req.sample is None else _whole(req.sample, "sample", 1)
    if req.outputs is not None and req.outputs not in OUTPUT_SOURCES:
        raise ValueError(f"outputs={req.outputs!r}: one of {OUTPUT_SOURCES} or None")
    if req.round is not None:
        _whole(req.round, "round", 0)
    from ..strategies import CLASS_BALANCE

    if req.class_balance not in CLASS_BALANCE:
        raise UserError(f"got {req.class_balance!r}; choose one of {list(CLASS_BALANCE)}", key="class_balance")
    if req.class_balance != "none" and req.outputs in ("probs", "mc"):
        raise UserError("needs the labeled items' labels (a head trained on them, or the simulation's); given "
                        "predictions carry none", key="class_balance")
    if req.class_balance != "none" and req.outputs is None:
        raise UserError("needs the labeled items' labels: give {labels}", key="class_balance",
                        refs={"labels": "labels"})
    entry = STRATEGIES.entry(req.strategy)
    cold = entry.meta.get("cold_start", False)  # runs on embeddings alone without a model
    all_random = n is not None and int(round(rf * n)) >= n
    if req.outputs is None and needs_model(req.strategy) and not cold and not all_random:
        raise UserError(f"{req.strategy} needs model outputs: give {{probs}}, or {{labels}} so that a head is "
                        "trained on the labeled items' features", key="strategy",
                        refs={"probs": "probs", "labels": "labels"})
    if "dropout" in entry.needs and req.outputs in ("probs", "mc"):
        raise UserError(f"{req.strategy} runs dropout passes through a head: give {{labels}} (or a model) instead "
                        "of {probs}", key="strategy", refs={"probs": "probs", "labels": "labels"})
    if sample is not None and n is not None and sample < n:
        raise UserError(f"got {sample}: the sample must hold at least the {n} items to pick", key="sample")
    return replace(req, n=n, total=total, params=params, random_fraction=rf, min_distance=md, seed=seed,
                   stream=tuple(req.stream), sample=sample, checked=True)


# -- the data side: which ids may be picked, and how many ---------------------------------------
def _positions(ids: Sequence[str], which: Sequence[str] | np.ndarray | None, what: str) -> np.ndarray:
    """Indices of ``which`` (ids, or a boolean mask over ``ids``) in ``ids``; unknown ids fail."""
    if which is None:
        return np.empty(0, np.int64)
    w = np.asarray(which)
    if w.dtype == bool:
        if w.shape != (len(ids),):
            raise UserError(f"a boolean mask must have one entry per id ({len(ids)}), got {w.shape}", key=what)
        return np.flatnonzero(w)
    index = {s: i for i, s in enumerate(ids)}
    missing = [str(s) for s in w.tolist() if str(s) not in index]
    if missing:
        raise UserError(f"{len(missing)} id(s) are not among the {len(ids)} ids (first: "
                        f"{', '.join(missing[:5])})", key=what)
    return np.unique(np.array([index[str(s)] for s in w.tolist()], np.int64))


def candidates(ids: Sequence[str], labeled=None, allowed=None) -> tuple[np.ndarray, np.ndarray]:
    """(labeled positions, candidate positions: those that may be picked, never labeled ones),
    both sorted. ``labeled`` / ``allowed``: ids or boolean masks over ``ids`` (None: nothing
    labeled, every id allowed); an unknown id is a :class:`UserError`."""
    lab = _positions(ids, labeled, "labeled")
    cand = _positions(ids, allowed, "candidates") if allowed is not None else np.arange(len(ids))
    return lab, np.setdiff1d(cand, lab)


def count(req: SelectionRequest, n_ids: int, n_labeled: int, n_candidates: int, *, up_to: bool = False) -> int:
    """How many ``req`` picks: its ``n``, or ``total`` minus the labeled set. More than the
    candidates fails (:class:`UserError`), unless ``up_to`` (the app's batch near the pool's
    end), which takes every candidate left."""
    if req.n is None and req.total is None:
        raise UserError("give n (how many to pick) or total (the labeled set's size after the pick)", key="n")
    n = req.n if req.n is not None else int(req.total) - int(n_labeled)
    if req.n is None and n <= 0:
        raise UserError(f"the labeled set already has {n_labeled} item(s)", key="total")
    if n_candidates == 0:
        raise UserError(f"no candidate left to pick (of {n_ids} ids, {n_labeled} labeled)", key="n")
    if up_to:
        return min(int(n), int(n_candidates))
    if not 0 < int(n) <= n_candidates:
        raise UserError(f"{n} asked, but {n_candidates} candidate(s) are left (of {n_ids} ids, {n_labeled} "
                        "labeled)", key="n")
    return int(n)
