"""Pick images for segmentation labeling from per-image model outputs: the recipes
(:mod:`al_bench.segmentation.recipes`) behind ``al-bench-select --task segmentation --model PATH
--strategy …`` and their library form::

    from al_bench.segmentation import load_segmentation_model, run_provider, select_segmentation
    model = load_segmentation_model("seg.pt", arch="lraspp_mobilenet_v3_large", num_classes=19)
    out = run_provider(model, ImageFiles(root, candidates), alges=("image",))
    sel = select_segmentation(ids, 20, "alges_coreset", scores=out.scores, alges=out.alges["image"],
                              features=emb, labeled=lab)

Recipes (``SEGMENTATION_STRATEGIES``, one module each): ``uncertainty`` (the n most uncertain
images), ``kcenter`` (the classification strategy on the feature-model embeddings, seeded by the
labeled images), ``shortlist_kcenter`` (the ``shortlist_factor`` · n most uncertain, then
k-center among them; formerly ``hybrid``), ``alges`` (k-means++ seeding on ALGES gradient
embeddings, ``variant`` image or semantic), ``alges_coreset`` (ALGES picks ``candidate_factor`` · n
candidates, k-center on their feature-model embeddings picks n) and ``ranked_batch`` (one greedy
pass scoring (1 − weight) · distance + weight · uncertainty, Cardoso et al. 2017; formerly
``uncertainty_coreset``). The former names still work, with a one-line notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import UserError
from ..picking.api import Selection
from ..picking.request import SelectionRequest, count, stream_name
from ..picking.request import candidates as candidate_positions
from .recipes import ALIASES, CandidateView, alias_notice, recipe_entry, recipe_names, recipe_params

__all__ = ["SEGMENTATION_STRATEGIES", "RECIPE_ALIASES", "NEEDS", "PARAMS", "select_segmentation",
           "segmentation_params", "select_with_model"]

log = logging.getLogger("al_bench.segmentation")


class _PerRecipe(Mapping):
    """recipe or deprecated alias → one of its registration's values, read when asked (so a
    recipe module added later is listed too)."""

    def __init__(self, value: Callable) -> None:
        self._value = value

    def _names(self) -> list[str]:
        return [*recipe_names(), *ALIASES]

    def __getitem__(self, name: str):
        if name not in self._names():
            raise KeyError(name)
        return self._value(recipe_entry(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


SEGMENTATION_STRATEGIES = recipe_names()  # the recipes in their declared order (aliases left out)
RECIPE_ALIASES = ALIASES  # deprecated name → recipe
# recipe → what it reads: "scores" (per-image uncertainty), "alges" (gradient embeddings),
# "features" (feature-model embeddings of every image, labeled ones included)
NEEDS: Mapping[str, frozenset[str]] = _PerRecipe(lambda e: e.needs)
PARAMS: Mapping[str, dict[str, Any]] = _PerRecipe(lambda e: dict(e.options))  # recipe → its parameters' defaults
segmentation_params = recipe_params  # the name the command and earlier code use


def select_segmentation(ids: Sequence[str], n: int, strategy: str = "uncertainty", *, scores: np.ndarray | None = None,
                        alges: np.ndarray | None = None, features: np.ndarray | None = None,
                        labeled: Sequence[str] | np.ndarray | None = None,
                        candidates: Sequence[str] | np.ndarray | None = None,
                        rng: np.random.Generator | int | None = None, **params: Any) -> Selection:
    """Pick ``n`` of ``ids`` for segmentation labeling with recipe ``strategy``.

    Rows of ``scores`` (N,), ``alges`` (N, E) and ``features`` (N, d) follow ``ids``; only the
    candidates' rows of ``scores`` and ``alges`` are read (others may be NaN), ``features`` of
    labeled ids seed the coreset. ``labeled`` / ``candidates``: ids or boolean masks, as in
    :func:`al_bench.select`. The selection's scores are the picks' uncertainty when given, else
    NaN. A deprecated recipe name (``hybrid``, ``uncertainty_coreset``) runs its recipe, logs a
    one-line notice and names the selection as asked.
    """
    ids = [str(s) for s in ids]
    p = recipe_params(strategy, dict(params))
    entry = recipe_entry(strategy)
    notice = alias_notice(strategy)
    if notice is not None:  # one line on stderr, through logging (the command's format, or Python's last resort)
        log.warning("%s", notice)
    seed = None
    if rng is None or isinstance(rng, (int, np.integer)):
        from ..rng import stream

        seed = 0 if rng is None else int(rng)
        rng = stream(seed, "pick")
    lab, cand = candidate_positions(ids, labeled, candidates)
    n = count(SelectionRequest(n=n), len(ids), lab.size, cand.size)
    need = entry.needs

    def rows(a, what, width: bool) -> np.ndarray:
        if a is None:
            raise UserError(f"{strategy} needs {what}")
        a = np.asarray(a)
        if a.shape[0] != len(ids) or (a.ndim != 2 if width else a.ndim != 1):
            raise UserError(f"{what} must have one {'row' if width else 'value'} per id ({len(ids)}), got {a.shape}")
        if not np.isfinite(a[cand]).all():
            bad = [ids[i] for i in cand[(~np.isfinite(a[cand])).reshape(len(cand), -1).any(1)]]
            raise UserError(f"{what} of {len(bad)} candidate(s) are not finite (first: {', '.join(bad[:3])})")
        return a

    u = rows(scores, "per-image uncertainty scores", False) if "scores" in need else None
    g = rows(alges, "ALGES embeddings", True)[cand] if "alges" in need else None
    x = rows(features, "feature-model embeddings", True) if "features" in need else None
    view = CandidateView(scores=None if u is None else u[cand], alges=g,
                         features=None if x is None else np.ascontiguousarray(x[cand], np.float32),
                         labeled_features=None if x is None or lab.size == 0
                         else np.ascontiguousarray(x[lab], np.float32))
    local = np.asarray(entry.obj(view, n, rng, **p), np.int64)
    if local.shape != (n,) or np.unique(local).size != n or (n and not 0 <= local.min() <= local.max() < cand.size):
        raise RuntimeError(f"segmentation recipe {entry.name!r} returned {local.tolist()[:10]}, not {n} distinct "
                           f"candidate indices in [0, {cand.size})")
    positions = cand[local]
    sc = np.asarray(scores, np.float64)[positions] if scores is not None else np.full(positions.size, np.nan)
    used = {**p, **({"seed": seed, "rng": stream_name(seed, ("pick",))} if seed is not None else {})}
    return Selection(tuple(ids[i] for i in positions), sc, strategy, used, positions, np.ones(positions.size, bool))


def select_with_model(model, images, n: int, strategy: str = "uncertainty", *,
                      labeled: Sequence[str] | np.ndarray | None = None,
                      candidates: Sequence[str] | np.ndarray | None = None,
                      features: np.ndarray | Callable[[], np.ndarray] | None = None, seed: int = 0,
                      cache_dir=None, progress: bool = True, provider_options: dict[str, Any] | None = None,
                      rng: np.random.Generator | None = None, **params: Any):
    """Run ``model`` (a :class:`~al_bench.segmentation.network.SegmentationModel`) on the
    candidates of ``images`` (:class:`~al_bench.data.images.ImageFiles`; ids = its relative
    paths) when the recipe reads its outputs, then pick with :func:`select_segmentation`.
    ``features``: the images' feature-model embeddings, or a function giving them (called only
    when the recipe reads them). ``provider_options`` go to :func:`run_provider` (provider,
    reduce, topk_fraction, mc_samples, image_size, batch_size). ``seed`` seeds the provider's
    dropout passes and, unless ``rng`` is given, the recipe's stream ``stream(seed, "pick")``. Returns (the selection, named
    ``segmentation:<recipe>`` with the provider options among its parameters; the provider's
    outputs, or None when the model did not need to run)."""
    from ..data.images import ImageFiles
    from .provider import run_provider

    ids = list(images.relpaths)
    p = recipe_params(strategy, dict(params))
    need = recipe_entry(strategy).needs
    options = dict(provider_options or {})
    lab, cand = candidate_positions(ids, labeled, candidates)
    count(SelectionRequest(n=n), len(ids), lab.size, cand.size)
    scores = alges = out = None
    if need & {"scores", "alges"}:
        variants = (str(p["variant"]),) if "alges" in need else ()
        out = run_provider(model, ImageFiles(images.root, [ids[i] for i in cand]), alges=variants, seed=seed,
                           cache_dir=cache_dir, progress=progress, **options)
        scores = np.full(len(ids), np.nan)
        scores[cand] = out.scores
        if variants:
            e = out.alges[variants[0]]
            alges = np.full((len(ids), e.shape[1]), np.nan, np.float32)
            alges[cand] = e
    if "features" in need and callable(features):
        features = features()
    is_lab, is_cand = np.zeros(len(ids), bool), np.zeros(len(ids), bool)
    is_lab[lab], is_cand[cand] = True, True
    sel = select_segmentation(ids, n, strategy, scores=scores, alges=alges,
                              features=features if "features" in need else None, labeled=is_lab,
                              candidates=is_cand, rng=seed if rng is None else rng, **p)
    meaning = ("the image's uncertainty under the segmentation model (--provider, reduced per image; higher = more "
               f"uncertain); picks in {strategy}'s order")
    return replace(sel, strategy=f"segmentation:{strategy}", params={**sel.params, **options}, meaning=meaning), out
