"""Segmentation recipes: one module each, registered by name — the ``--strategy`` of
``al-bench-select --task segmentation --model`` and of a labeling project's segmentation query.

A recipe is a pure function ``(view, n, rng, **params) → (n,) candidate indices in pick order``
on a :class:`CandidateView` (one row per candidate image, the labeled images apart); randomness
only from ``rng``. It declares, when registering:

- ``needs``: what it reads — ``scores`` (each image's uncertainty under the segmentation model,
  from the provider), ``alges`` (ALGES gradient embeddings), ``features`` (feature-model
  embeddings, the labeled images' included); callers run the model or the embedder only for these;
- ``score``: what the selection's per-pick scores hold;
- ``order``: its place in listings and messages;
- optionally ``param_ranges={"weight": (0.0, 1.0)}`` (closed numeric ranges; ``math.inf`` for
  no upper bound), ``param_choices={"variant": ("image", "semantic")}`` and ``param_notes``
  (words added to a range's error), checked by :func:`recipe_params` before anything runs;
- optionally ``strategy="kcenter"``: the classification strategy (:mod:`al_bench.strategies`)
  the recipe runs as it is, on the candidates' features (:func:`strategy_picks`).

Its keyword parameters with defaults are its ``--param`` options; nothing else is edited to add
one. Names are shared with the classification strategies, one algorithm per name: ``kcenter``
is the strategy itself; the recipes that apply ``hybrid``'s and ``uncertainty_coreset``'s
selectors to the segmentation model's uncertainty (not a classifier's entropy) have names of
their own, ``shortlist_kcenter`` and ``ranked_batch``, and the old names are deprecated aliases
(:data:`ALIASES`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import UserError
from ...registry import Entry, Registry

__all__ = ["RECIPES", "NEEDS", "ALIASES", "UNCERTAINTY", "CandidateView", "register", "recipe_names", "recipe_entry",
           "recipe_params", "alias_notice", "strategy_picks", "select_alges", "select_alges_coreset",
           "uncertainty_coreset"]

RECIPES: Registry = Registry("segmentation recipe", package=__name__, key="--strategy",
                             required=("needs", "score", "order"), option_word="parameter")
NEEDS = frozenset({"scores", "alges", "features"})  # what a recipe may read
# deprecated name → recipe: the names the recipes had while they shared them with classification
# strategies that compute their uncertainty otherwise; a selection keeps the name it was asked by
ALIASES: dict[str, str] = {"hybrid": "shortlist_kcenter", "uncertainty_coreset": "ranked_batch"}
UNCERTAINTY = ("the image's uncertainty under the segmentation model (the provider's per-pixel score reduced "
               "per image; higher = more uncertain), NaN when the recipe does not read it")


@dataclass(frozen=True)
class CandidateView:
    """What a recipe may read, one row per candidate image (C rows). Arrays are read-only.

    ``scores`` (C,): per-image uncertainty; ``alges`` (C, E): ALGES embeddings; ``features``
    (C, d) float32: feature-model embeddings; ``labeled_features`` (L, d) float32: those of the
    labeled images, which seed the coresets (None when none are labeled). A field the recipe does
    not need is None.
    """

    scores: np.ndarray | None = None
    alges: np.ndarray | None = None
    features: np.ndarray | None = None
    labeled_features: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("scores", "alges", "features", "labeled_features"):
            value = getattr(self, name)
            if value is not None:
                frozen = np.asarray(value).view()  # a view: the caller's array keeps its flags
                frozen.flags.writeable = False
                object.__setattr__(self, name, frozen)

    def __len__(self) -> int:
        for a in (self.scores, self.alges, self.features):
            if a is not None:
                return len(a)
        return 0


def register(name: str, *, needs: set[str] | frozenset[str], score: str, order: int,
             param_ranges: dict[str, tuple[float, float]] | None = None,
             param_choices: dict[str, tuple[str, ...]] | None = None,
             param_notes: dict[str, str] | None = None, **meta: Any):
    """Register a recipe under ``name`` (its module and ``--strategy`` name)."""
    bad = set(needs) - NEEDS
    if bad:
        raise TypeError(f"segmentation recipe {name!r}: unknown needs {sorted(bad)}; choose from {sorted(NEEDS)}")
    ranges, choices = dict(param_ranges or {}), {k: tuple(v) for k, v in (param_choices or {}).items()}
    for key, (lo, hi) in ranges.items():
        if not lo <= hi:
            raise TypeError(f"segmentation recipe {name!r}: empty range {(lo, hi)} for parameter {key!r}")
    inner = RECIPES.register(name, needs=frozenset(needs), score=score, order=int(order), param_ranges=ranges,
                             param_choices=choices, param_notes=dict(param_notes or {}), **meta)

    def deco(obj):
        out = inner(obj)
        unknown = (set(ranges) | set(choices)) - set(RECIPES.options(name))
        if unknown:
            RECIPES.unregister(name)
            raise TypeError(f"segmentation recipe {name!r}: ranges or choices for {sorted(unknown)}, which are not "
                            "its parameters")
        return out

    return deco


def recipe_names() -> tuple[str, ...]:
    """Every recipe's name in its declared order (aliases left out)."""
    return tuple(e.name for e in sorted(RECIPES.entries(), key=lambda e: e.order))


def recipe_entry(name: str) -> Entry:
    """The recipe ``name`` (or the one a deprecated alias stands for) with its metadata; an
    unknown name is a :class:`UserError` naming the recipes."""
    canonical = ALIASES.get(name, name) if isinstance(name, str) else name
    if not isinstance(canonical, str) or canonical not in RECIPES:
        raise UserError(f"segmentation strategies are {', '.join(recipe_names())}", key=f"--strategy {name}")
    return RECIPES.entry(canonical)


def alias_notice(name: str) -> str | None:
    """The one-line notice for a deprecated recipe name, or None for a current one."""
    if name not in ALIASES:
        return None
    return (f"segmentation recipe {name!r} is deprecated: use {ALIASES[name]!r} (the same picks; {name!r} also "
            f"names a classification strategy, which computes its uncertainty otherwise)")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def recipe_params(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The parameters recipe ``name`` runs with: its defaults updated by ``given``. Unknown names,
    numbers outside the declared ranges and values outside the declared choices fail in one line
    (a :class:`UserError` keyed ``--param``)."""
    entry = recipe_entry(name)
    unknown = sorted(set(given) - set(entry.options))
    if unknown:
        raise UserError(f"{name} takes {sorted(entry.options) or 'no parameters'}, not {unknown}", key="--param")
    out = {**entry.options, **given}
    for k, (lo, hi) in entry.param_ranges.items():
        value = out[k]
        try:
            ok = not isinstance(value, bool) and isinstance(value, (numbers.Real, str)) \
                and math.isfinite(float(value)) and lo <= float(value) <= hi
        except ValueError:  # a string that is no number
            ok = False
        if not ok:
            span = f">= {_fmt(lo)}" if hi == math.inf else f"in [{_fmt(lo)}, {_fmt(hi)}]"
            note = entry.param_notes.get(k)
            raise UserError(f"{k}={value}: give a number {span}" + (f" ({note})" if note else ""), key="--param")
    for k, allowed in entry.param_choices.items():
        if out[k] not in allowed:
            raise UserError(f"{k}={out[k]}: {' or '.join(allowed)}", key="--param")
    return out


def strategy_picks(strategy: str, view: CandidateView, n: int, rng: np.random.Generator) -> np.ndarray:
    """Candidate indices (n,) picked by the classification strategy ``strategy`` — one that
    reads only embeddings — run as it is on a pool of the labeled images' and the candidates'
    features, labeled first: the same function, the same picks as ``al_bench.select`` gives."""
    from ...strategies import PoolView, run_strategy

    lab = view.labeled_features
    L = 0 if lab is None else len(lab)
    rows = view.features if lab is None else np.concatenate([lab, view.features])
    pool = PoolView(rows, np.arange(L), np.arange(L, len(rows)), 0, 0)
    picks, _ = run_strategy(strategy, pool, n, rng)
    return picks - L


# the array functions under their earlier import path (al_bench.segmentation.recipes)
from ...kernels.ranked_batch import ranked_batch as uncertainty_coreset  # noqa: E402
from .alges import select_alges  # noqa: E402
from .alges_coreset import select_alges_coreset  # noqa: E402
