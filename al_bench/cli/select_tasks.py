"""The tasks other than classification in ``al-bench-select``: ranking by per-image detection or
segmentation scores, and ``--task segmentation --model PATH`` (its flags checked before any
image is read, the network run on a folder's candidates). Each gives the ``ranking`` of
:func:`al_bench.picking.from_folder.pick_folder`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..errors import UserError
from .select_flags import coerce as _coerce
from .select_flags import kv as _kv

__all__ = ["model_checks", "segmentation_checks", "project_options", "model_pick", "score_pick", "image_size"]


def model_checks(args: argparse.Namespace) -> dict:
    """``--task segmentation --model``: the recipe (default uncertainty), the model file, then
    :func:`segmentation_checks`. Returns the recipe's parameters."""
    from ..segmentation.select import RECIPE_ALIASES, SEGMENTATION_STRATEGIES

    args.strategy = args.strategy or "uncertainty"
    if args.strategy not in SEGMENTATION_STRATEGIES and args.strategy not in RECIPE_ALIASES:
        raise UserError(f"--strategy {args.strategy}: with --model the segmentation recipes are "
                        f"{', '.join(SEGMENTATION_STRATEGIES)}")
    args.model = args.model.expanduser()
    if not args.model.is_file():
        raise UserError(f"no such file: {args.model}", key="--model")
    return segmentation_checks(args)


def project_options(args: argparse.Namespace) -> dict:
    """The network's and provider's options of a project query (``LabelingProject.query``'s
    ``segmentation``)."""
    scorer = _kv(args.scorer_param, "--scorer-param")
    options = {k: getattr(args, k) for k in ("arch", "num_classes", "hook_layer", "device", "provider", "mc_samples",
                                             "image_size", "batch_size")}
    return {**options, "reduce": str(scorer.get("reduce", "mean")), "topk_fraction": float(scorer.get("topk_fraction", 0.1))}


def segmentation_checks(args: argparse.Namespace) -> dict:
    """The --task segmentation --model flags that need no image, checked (and typed) up front:
    the recipe's parameters, --provider's passes, --image-size, --scorer-param, and the
    embedder when the recipe reads feature-model embeddings. Returns the recipe's parameters."""
    from ..segmentation.select import NEEDS, PARAMS, segmentation_params
    from ..task_scores import reduce_map

    if args.mc_samples < 2 and args.provider != "entropy":
        raise UserError(f"--mc-samples {args.mc_samples}: give at least 2 passes")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: give at least 1")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"--device {args.device}: CUDA is not available here; use auto or cpu")
    args.image_size = image_size(args.image_size)
    params = segmentation_params(args.strategy, _coerce(_kv(args.param, "--param"), PARAMS[args.strategy], "--param"))
    scorer = _kv(args.scorer_param, "--scorer-param")
    unknown = sorted(set(scorer) - {"reduce", "topk_fraction"})
    if unknown:
        raise UserError(f"--scorer-param {unknown[0]}: with --model the options are reduce and topk_fraction")
    scorer = _coerce(scorer, {"reduce": "mean", "topk_fraction": 0.1}, "--scorer-param")
    try:
        reduce_map(np.zeros((2, 2)), str(scorer.get("reduce", "mean")), float(scorer.get("topk_fraction", 0.1)))
    except ValueError as exc:
        raise UserError(f"--scorer-param: {exc}") from None
    args.scorer_param = [f"{k}={v}" for k, v in scorer.items()]
    if "features" in NEEDS[args.strategy]:
        from ..embedders import EMBEDDERS

        if args.embedder not in EMBEDDERS:
            raise UserError(f"--embedder {args.embedder}: unknown; choose one of {sorted(EMBEDDERS)}")
        emb_opts = _kv(args.embedder_opt, "--embedder-opt")
        EMBEDDERS.check_options(args.embedder, emb_opts)
        _coerce(emb_opts, EMBEDDERS.options(args.embedder), "--embedder-opt")
    return params


def image_size(text: str | None):
    """``--image-size``: N or HxW → int or (H, W)."""
    if text is None:
        return None
    parts = str(text).lower().split("x")
    try:
        vals = [int(v) for v in parts]
    except ValueError:
        vals = []
    if len(vals) not in (1, 2) or min(vals) < 8:
        raise UserError(f"--image-size {text}: give N or HxW in pixels (at least 8)")
    return vals[0] if len(vals) == 1 else (vals[0], vals[1])


def score_pick(args: argparse.Namespace, req, opts):
    """``(scan, is_labeled, candidates) → (Selection, None)``: the candidates with the highest
    per-image scores of the task's predictions (``--scorer``), ties broken by the request's seed."""

    def run(scan, is_labeled: np.ndarray, cand: np.ndarray):
        from ..picking.api import select_top
        from ..picking.inputs import align
        from ..task_scores import read_task_scores

        good = list(scan.good)
        ids, values = read_task_scores(opts.predictions, opts.task, opts.scorer, opts.scorer_options)
        scores = align(ids, values, good, np.flatnonzero(cand), f"--predictions {opts.predictions}")[:, 0]
        return select_top(good, scores, req.n, labeled=is_labeled, candidates=cand, rng=req.seed,
                          name=f"{opts.task}:{opts.scorer}"), None

    return run


def model_pick(args: argparse.Namespace, params: dict, emb_opts: dict, cache_dir: Path, say):
    """``(scan, is_labeled, candidates) → (Selection, embedder or None)``: run the network on the
    candidates (cached), embed the images when the recipe reads feature-model embeddings, pick."""

    def run(scan, is_labeled: np.ndarray, cand: np.ndarray):
        return _segmentation_model(args, scan, is_labeled, cand, params, emb_opts, cache_dir, say)

    return run


def _segmentation_model(args: argparse.Namespace, scan, is_labeled: np.ndarray, cand: np.ndarray, params: dict,
                        emb_opts: dict, cache_dir: Path, _say):
    """--task segmentation --model: run the network on the candidates (cached), embed the
    images when the recipe reads feature-model embeddings, pick. (Selection, embedder or None)."""
    from ..data.images import ImageFiles
    from ..segmentation.provider import load_segmentation_model
    from ..segmentation.select import select_with_model

    images = ImageFiles(scan.root, list(scan.good))
    model = load_segmentation_model(args.model, arch=args.arch, num_classes=args.num_classes, device=args.device,
                                    hook_layer=args.hook_layer)
    scorer = _kv(args.scorer_param, "--scorer-param")
    options = {"provider": args.provider, "reduce": str(scorer.get("reduce", "mean")),
               "topk_fraction": float(scorer.get("topk_fraction", 0.1)), "mc_samples": args.mc_samples,
               "image_size": args.image_size, "batch_size": args.batch_size}
    used = []

    def features() -> np.ndarray:
        from ..embedders import embed

        t1 = time.perf_counter()
        emb = embed(images, np.arange(len(images)), args.embedder, scan.fingerprint, cache_dir, 0, **emb_opts)
        used.append(emb.embedder)
        _say(f"embedded {len(images)} image(s) with {emb.embedder} in {time.perf_counter() - t1:.1f} s")
        return emb.features

    t0 = time.perf_counter()
    sel, out = select_with_model(model, images, args.n, args.strategy, labeled=is_labeled, candidates=cand,
                                 features=features, seed=args.seed, cache_dir=cache_dir, progress=not args.quiet,
                                 provider_options=options, **params)
    if out is not None:
        _say(f"ran {model.name} on {int(cand.sum())} candidate(s) ({args.provider}) in {time.perf_counter() - t0:.1f} s "
             f"({'from cache' if out.from_cache else 'cached at ' + str(out.cache_file)})")
    from dataclasses import replace

    return replace(sel, params={**sel.params, "model": str(args.model), "arch": args.arch}), (used[0] if used else None)
