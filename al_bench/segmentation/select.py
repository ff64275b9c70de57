"""Pick images for segmentation labeling from per-image model outputs: the recipes behind
``al-bench-select --task segmentation --model PATH --strategy …`` and their library form::

    from al_bench.segmentation import load_segmentation_model, run_provider, select_segmentation
    model = load_segmentation_model("seg.pt", arch="lraspp_mobilenet_v3_large", num_classes=19)
    out = run_provider(model, ImageFiles(root, candidates), alges=("image",))
    sel = select_segmentation(ids, 20, "alges_coreset", outputs=out, features=emb, labeled=lab)

Recipes (``SEGMENTATION_STRATEGIES``):

- ``uncertainty``: the n most uncertain images (the provider's score, reduced per image);
- ``kcenter``: coreset on the feature-model embeddings, seeded by the labeled images;
- ``hybrid``: the ``shortlist_factor`` · n most uncertain, then coreset among them;
- ``alges``: k-means++ seeding on ALGES gradient embeddings (``variant`` image or semantic);
- ``alges_coreset``: ALGES picks ``candidate_factor`` · n candidates, coreset on their
  feature-model embeddings picks n;
- ``uncertainty_coreset``: one greedy pass scoring (1 − weight) · distance + weight ·
  uncertainty (Cardoso et al. 2017), :func:`~al_bench.segmentation.recipes.uncertainty_coreset`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import UserError
from ..picking.api import Selection, _candidates, _check_n

__all__ = ["SEGMENTATION_STRATEGIES", "NEEDS", "select_segmentation", "segmentation_params", "select_with_model"]

# recipe → what it reads: "scores" (per-image uncertainty), "alges" (gradient embeddings),
# "features" (feature-model embeddings of every image, labeled ones included)
NEEDS: dict[str, frozenset[str]] = {
    "uncertainty": frozenset({"scores"}),
    "kcenter": frozenset({"features"}),
    "hybrid": frozenset({"scores", "features"}),
    "alges": frozenset({"alges"}),
    "alges_coreset": frozenset({"alges", "features"}),
    "uncertainty_coreset": frozenset({"scores", "features"}),
}
SEGMENTATION_STRATEGIES = tuple(NEEDS)
PARAMS: dict[str, dict[str, Any]] = {
    "uncertainty": {},
    "kcenter": {},
    "hybrid": {"shortlist_factor": 2.0},
    "alges": {"variant": "image", "first": "max_norm"},
    "alges_coreset": {"variant": "image", "candidate_factor": 4.0},
    "uncertainty_coreset": {"weight": 0.5},
}


def segmentation_params(strategy: str, given: dict[str, Any]) -> dict[str, Any]:
    """The recipe's parameters: defaults updated by ``given``; unknown names fail."""
    if strategy not in PARAMS:
        raise UserError(f"segmentation strategies are {', '.join(SEGMENTATION_STRATEGIES)}", key=f"--strategy {strategy}")
    unknown = sorted(set(given) - set(PARAMS[strategy]))
    if unknown:
        raise UserError(f"{strategy} takes {sorted(PARAMS[strategy]) or 'no parameters'}, not {unknown}", key="--param")
    out = {**PARAMS[strategy], **given}
    for k in ("shortlist_factor", "candidate_factor"):
        if k in out and not (np.isfinite(float(out[k])) and float(out[k]) >= 1):
            raise UserError(f"{k}={out[k]}: give a number >= 1", key="--param")
    if "weight" in out and not 0.0 <= float(out["weight"]) <= 1.0:
        raise UserError(f"weight={out['weight']}: give a number in [0, 1] (0 = k-center, 1 = uncertainty)", key="--param")
    if out.get("first", "max_norm") not in ("max_norm", "random"):
        raise UserError(f"first={out['first']}: max_norm or random", key="--param")
    if out.get("variant", "image") not in ("image", "semantic"):
        raise UserError(f"variant={out['variant']}: image or semantic", key="--param")
    return out


def select_segmentation(ids: Sequence[str], n: int, strategy: str = "uncertainty", *, scores: np.ndarray | None = None,
                        alges: np.ndarray | None = None, features: np.ndarray | None = None,
                        labeled: Sequence[str] | np.ndarray | None = None,
                        candidates: Sequence[str] | np.ndarray | None = None,
                        rng: np.random.Generator | int | None = None, **params: Any) -> Selection:
    """Pick ``n`` of ``ids`` for segmentation labeling with recipe ``strategy``.

    Rows of ``scores`` (N,), ``alges`` (N, E) and ``features`` (N, d) follow ``ids``; only the
    candidates' rows of ``scores`` and ``alges`` are read (others may be NaN), ``features`` of
    labeled ids seed the coreset. ``labeled`` / ``candidates``: ids or boolean masks, as in
    :func:`al_bench.select`. The selection's scores are the picks' uncertainty when given, else NaN.
    """
    from ..kernels.kcenter import kcenter_greedy
    from ..kernels.topk import top_k
    from .recipes import select_alges, select_alges_coreset, uncertainty_coreset

    ids = [str(s) for s in ids]
    p = segmentation_params(strategy, dict(params))
    seed = None
    if rng is None or isinstance(rng, (int, np.integer)):
        seed = 0 if rng is None else int(rng)
        rng = np.random.default_rng(seed)
    lab, cand = _candidates(ids, labeled, candidates)
    _check_n(n, ids, lab, cand)
    n = int(n)
    need = NEEDS[strategy]

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
    xl = None if x is None or lab.size == 0 else np.ascontiguousarray(x[lab], np.float32)
    if strategy == "uncertainty":
        local = top_k(u[cand], n, rng)
    elif strategy == "kcenter":
        both = np.concatenate([lab, cand])
        local = kcenter_greedy(np.ascontiguousarray(x[both], np.float32), np.arange(lab.size), n, rng) - lab.size
    elif strategy == "hybrid":
        m = min(cand.size, max(n, int(np.ceil(float(p["shortlist_factor"]) * n))))
        short = top_k(u[cand], m, rng)
        both = np.concatenate([lab, cand[short]])
        local = short[kcenter_greedy(np.ascontiguousarray(x[both], np.float32), np.arange(lab.size), n, rng) - lab.size]
    elif strategy == "alges":
        local = select_alges(g, n, rng, first=str(p["first"]))
    elif strategy == "alges_coreset":
        local = select_alges_coreset(g, np.ascontiguousarray(x[cand], np.float32), n, rng,
                                     candidate_factor=float(p["candidate_factor"]), labeled_features=xl)
    else:  # uncertainty_coreset
        local = uncertainty_coreset(np.ascontiguousarray(x[cand], np.float32), u[cand], n, weight=float(p["weight"]),
                                    labeled_features=xl)
    positions = cand[np.asarray(local, np.int64)]
    sc = np.asarray(scores, np.float64)[positions] if scores is not None else np.full(positions.size, np.nan)
    used = {**p, **({"seed": seed} if seed is not None else {})}
    return Selection(tuple(ids[i] for i in positions), sc, strategy, used, positions, np.ones(positions.size, bool))


def select_with_model(model, images, n: int, strategy: str = "uncertainty", *,
                      labeled: Sequence[str] | np.ndarray | None = None,
                      candidates: Sequence[str] | np.ndarray | None = None,
                      features: np.ndarray | Callable[[], np.ndarray] | None = None, seed: int = 0,
                      cache_dir=None, progress: bool = True, provider_options: dict[str, Any] | None = None,
                      **params: Any):
    """Run ``model`` (a :class:`~al_bench.segmentation.provider.SegmentationModel`) on the
    candidates of ``images`` (:class:`~al_bench.data.images.ImageFiles`; ids = its relative
    paths) when the recipe reads its outputs, then pick with :func:`select_segmentation`.
    ``features``: the images' feature-model embeddings, or a function giving them (called only
    when the recipe reads them). ``provider_options`` go to :func:`run_provider` (provider,
    reduce, topk_fraction, mc_samples, image_size, batch_size). Returns (the selection, named
    ``segmentation:<recipe>`` with the provider options among its parameters; the provider's
    outputs, or None when the model did not need to run)."""
    from ..data.images import ImageFiles
    from .provider import run_provider

    ids = list(images.relpaths)
    p = segmentation_params(strategy, dict(params))
    need = NEEDS[strategy]
    options = dict(provider_options or {})
    lab, cand = _candidates(ids, labeled, candidates)
    _check_n(n, ids, lab, cand)
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
                              candidates=is_cand, rng=seed, **p)
    return replace(sel, strategy=f"segmentation:{strategy}", params={**sel.params, **options}), out
