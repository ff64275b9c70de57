"""The strategy registry and what its metadata says about a strategy.

:data:`STRATEGIES` finds the strategy modules of this package by discovery (every module whose
name does not start with ``_``), so this helper module and its siblings are ``_``-named: they
are not strategies. :func:`register` checks the metadata described in :mod:`al_bench.strategies`.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry
from ._base import MODEL_OUTPUTS, NEEDS

__all__ = ["STRATEGIES", "REGISTRY", "register", "strategy_params", "needs_model", "reads_features",
           "samples_scores", "features_only"]

# package: the package (al_bench.strategies) whose modules discovery imports, not this module
STRATEGIES: Registry = Registry("strategy", package=__package__, key="strategy", required=("needs", "score"),
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
        # the entry just made, read without discovery: a strategy module imported first (its own
        # import, before the registry's) must not import the others half-way through its own
        unknown = set(ranges) - set(STRATEGIES.registered(name).options)
        if unknown:
            STRATEGIES.unregister(name)
            raise TypeError(f"strategy {name!r}: param_ranges for {sorted(unknown)}, which are not its parameters")
        return out

    return deco


def strategy_params(name: str) -> dict[str, object]:
    """The tunable keyword parameters of strategy ``name`` with their defaults."""
    return STRATEGIES.options(name)


def needs_model(name: str) -> bool:
    """Whether strategy ``name`` asks for model outputs (probabilities, MC samples, gradients)."""
    return bool(STRATEGIES.entry(name).needs & MODEL_OUTPUTS)


def reads_features(name: str) -> bool:
    """Whether strategy ``name`` reads the embeddings (given the model outputs it needs)."""
    return bool(STRATEGIES.entry(name).needs & {"features", "grad"})


def samples_scores(name: str) -> bool:
    """Whether strategy ``name`` scores every unlabeled item (declares ``pool_scores``), so that
    ``strategy.sampling`` other than ``topk`` applies to it."""
    return STRATEGIES.entry(name).meta.get("pool_scores") is not None


def features_only(name: str) -> bool:
    """Whether strategy ``name`` reads nothing but the embeddings (no model outputs): it can
    pick the initial labeled set (``budget.initial_strategy``)."""
    return STRATEGIES.entry(name).needs <= {"features"}
