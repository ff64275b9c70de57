"""al-bench-select: pick the next images to label from a folder, and hand them off.

    al-bench-select --images-dir DIR -n 50 --strategy kcenter [--labeled labeled.csv]
                    [--predictions preds.csv|.npy|.npz] [--embedder auto] [--out DIR]
    al-bench-select --project DIR -n 20 [--strategy margin] [--subset NAME] [--selection-name NAME]

Scans DIR recursively (.jpg .jpeg .png .webp .bmp; ids are POSIX paths relative to DIR, hidden
entries ignored), skips unreadable files (listed in OUT/unreadable.csv), leaves out the folders
this command wrote (marked with a .al_bench_output file), links leading outside DIR (unless
--follow-links) and names that are not valid UTF-8 (listed in unreadable.csv too), drops too-dark or
blown-out images when asked, embeds the rest (cached per folder, so a second call with another
strategy only scores), runs a registered strategy (as al_bench.select does) and writes

    OUT/selection.csv         rank, id, score, strategy
    OUT/selection.yaml        the hand-off: strategy, parameters, source, counts, ids
    OUT/mosaic.png            a preview grid of the picks with their ids
    OUT/label_studio.json     a Label Studio task import (one task per pick)
    --copy-to DIR             the picked files copied (or --link'ed) under their relative paths

--task says what the model predicts: classification (the default) ranks with --strategy, on
the images' embeddings and/or class probabilities; detection and segmentation rank by a
per-image --scorer over the model's boxes or per-pixel maps, no embedding needed.

Model outputs for uncertainty strategies (entropy, margin, least_confidence, bald, badge,
hybrid) come from --predictions or from a linear head trained on the --labeled images'
features (labels in the CSV's "label" column). Predictions formats:

  .csv   an "id" column and one probability column per class (rows sum to 1)
  .npz   arrays "ids" (N,) and "probs" (N, C) or MC-dropout samples (K, N, C)
  .npy   (N, C) or (K, N, C), rows in the sorted order of all image files found (as listed
         by --list-ids)
  with --task detection: JSON Lines (or a JSON list) of {"id", "boxes", "objectness",
         "probs"} per image, scored by --scorer (see al_bench.task_scores)
  with --task segmentation: .npz of per-pixel probability maps, scored by --scorer and
         reduced to one score per image by --scorer-param reduce=mean|topk|max

--project DIR picks from an al-bench-label project (al_bench.labeling.LabelingProject): its
images, labels, embedder and current model, the same selection code; the picks are kept in the
project as a named selection (the app labels them as its current batch) and written to
OUT/selection.csv.

Label Studio: the default image URLs are its local-files server's, /data/local-files/?d=PATH,
PATH being --images-dir relative to Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT
(give it with --label-studio-document-root; default /). Start Label Studio with
LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and that document root, and add a Local Storage
(project Settings > Cloud Storage > Add Source Storage > Local files) whose path is --images-dir
before importing label_studio.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import UserError

__all__ = ["main", "run", "build_parser", "flag_for"]


def _say(msg: str) -> None:
    print(f"al-bench-select: {msg}", file=sys.stderr, flush=True)


def flag_for(key: str) -> str:
    """The flag of this command that sets config key ``key`` (how its errors name keys)."""
    if key.startswith("strategy.params."):
        return "--param " + key[len("strategy.params."):]
    if key.startswith("embedder."):
        return "--embedder-opt " + key[len("embedder."):]
    return {"embedder": "--embedder", "strategy": "--strategy", "arch": "--arch", "num_classes": "--num-classes",
            "hook_layer": "--hook-layer", "provider": "--provider", "image_size": "--image-size",
            "batch_size": "--batch-size", "mc_samples": "--mc-samples", "device": "--device"}.get(key, key)


# -- flags ---------------------------------------------------------------------------------------
def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _kv(items: list[str], flag: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} {item!r}: write KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


def _coerce(values: dict, defaults: dict, flag: str) -> dict:
    """Each value converted to the type of its default (JSON-parsed values otherwise kept)."""
    out = {}
    for k, v in values.items():
        d = defaults.get(k)
        try:
            if isinstance(d, bool):
                if str(v).lower() not in ("true", "false", "1", "0"):
                    raise ValueError("not a boolean")
                v = str(v).lower() in ("true", "1")
            elif isinstance(d, int):
                if float(v) != int(float(v)):
                    raise ValueError("not a whole number")
                v = int(float(v))
            elif isinstance(d, float):
                v = float(v)
            elif isinstance(d, str):
                v = str(v)
        except (TypeError, ValueError):
            raise UserError(f"{flag} {k}={v}: expected {type(d).__name__} like the default {d!r}") from None
        out[k] = v
    return out


def build_parser() -> argparse.ArgumentParser:
    from ..strategies import STRATEGIES

    ap = argparse.ArgumentParser(prog="al-bench-select", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images-dir", type=Path, help="folder of unlabeled (and labeled) images (required unless --project)")
    ap.add_argument("--project", type=Path, metavar="DIR",
                    help="pick from an al-bench-label project instead: its images, labels, embedder and current "
                         "model; the picks are kept in the project as a named selection (--selection-name)")
    ap.add_argument("--selection-name", default=None, help="with --project: the selection's name (default query-<k>)")
    ap.add_argument("--subset", default=None, help="with --project: pick only among this named subset's images")
    ap.add_argument("-n", type=int, default=None, help="how many images to pick (required unless --list-ids)")
    from ..segmentation.providers import provider_names
    from ..segmentation.select import RECIPE_ALIASES, SEGMENTATION_STRATEGIES

    ap.add_argument("--strategy", default=None,
                    choices=sorted(set(STRATEGIES) | set(SEGMENTATION_STRATEGIES) | set(RECIPE_ALIASES)),
                    help="a registered strategy (default kcenter); with --task detection/segmentation and "
                         "--predictions the ranking is by --scorer instead; with --task segmentation --model: "
                         f"{', '.join(SEGMENTATION_STRATEGIES)} (default uncertainty; deprecated: "
                         + ", ".join(f"{old} for {new}" for old, new in RECIPE_ALIASES.items()) + ")")
    ap.add_argument("--param", action="append", metavar="KEY=VALUE", help="a strategy parameter, e.g. k=20 for bald")
    ap.add_argument("--labeled", type=Path, help="CSV with an 'id' column (and 'label' to train a head): images "
                                                 "already labeled; they seed k-center and are never picked")
    ap.add_argument("--predictions", type=Path, help="model outputs per image (.csv, .npz, .npy; see above)")
    ap.add_argument("--task", choices=["classification", "detection", "segmentation"], default="classification",
                    help="what --predictions hold (default classification: class probabilities, or none, ranked "
                         "by --strategy); detection or segmentation: boxes or per-pixel maps per image, ranked "
                         "by --scorer")
    ap.add_argument("--scorer", default=None, help="detection: object_frequency, objectness_least_confidence, "
                                                   "box_entropy, box_margin, box_least_confidence; segmentation: "
                                                   "entropy, margin, least_confidence, bald")
    ap.add_argument("--scorer-param", action="append", metavar="KEY=VALUE",
                    help="a scorer option, e.g. class_penalty=0.5, reduce=topk, topk_fraction=0.05")
    seg = ap.add_argument_group("segmentation model (--task segmentation --model PATH)")
    seg.add_argument("--model", type=Path, default=None,
                     help="the segmentation network to run on the candidates: a torch.export program, a TorchScript "
                          "file, or a state dict with --arch")
    seg.add_argument("--arch", default=None, help="torchvision segmentation architecture of a state-dict --model "
                                                  "(e.g. lraspp_mobilenet_v3_large, deeplabv3_resnet50)")
    seg.add_argument("--num-classes", type=int, default=None, help="classes of --arch (default: read from the state dict)")
    seg.add_argument("--hook-layer", default=None, help="the layer whose inputs feed ALGES (default: the last Conv2d "
                                                        "with num-classes outputs)")
    seg.add_argument("--provider", choices=list(provider_names()), default="entropy",
                     help="per-pixel uncertainty: entropy of one pass, or of the mean of --mc-samples passes with "
                          "dropout on (mc_dropout), or their BALD (default entropy)")
    seg.add_argument("--mc-samples", type=int, default=8, help="passes for mc_dropout / bald (default 8)")
    seg.add_argument("--image-size", default=None, metavar="N|HxW", help="resize every image to this before the model")
    seg.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default 4)")
    seg.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto (default cpu)")
    ap.add_argument("--embedder", default="auto", help="embedder name (default auto: DINOv2 if its weights load, "
                                                       "else the offline kmeans_patches)")
    ap.add_argument("--embedder-opt", action="append", metavar="KEY=VALUE",
                    help="embedder option, e.g. weights=/path/dinov2.pth or device=cpu")
    ap.add_argument("--min-brightness", type=float, default=None, help="drop images darker than this mean luma (0-255)")
    ap.add_argument("--max-brightness", type=float, default=None, help="drop images brighter than this mean luma (0-255)")
    ap.add_argument("--min-distance", type=float, default=None,
                    help="kcenter: stop once the farthest remaining image is closer than this (embedding units)")
    ap.add_argument("--random-fraction", type=float, default=0.0, help="share of the batch drawn uniformly")
    ap.add_argument("--seed", type=int, default=None, help="seed of every random choice (default 0; with --project "
                                                          "the project's own seed and query number)")
    ap.add_argument("--out", type=Path, default=Path("selection"), help="output folder (default ./selection)")
    ap.add_argument("--copy-to", type=Path, help="copy the picked files here, under their relative paths")
    ap.add_argument("--link", action="store_true", help="with --copy-to: symlink instead of copying")
    ap.add_argument("--follow-links", action="store_true",
                    help="also take symlinked files and folders whose target lies outside --images-dir "
                         "(default: left out and listed in unreadable.csv; links inside are always followed)")
    ap.add_argument("--label-studio-prefix", default=None,
                    help="URL prefix of the images in label_studio.json (default: Label Studio local files, "
                         "/data/local-files/?d=<images-dir relative to --label-studio-document-root>/)")
    ap.add_argument("--label-studio-document-root", type=Path, default=None, metavar="DIR",
                    help="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, which --images-dir must lie under "
                         "(default /: the ?d= path is --images-dir's absolute path)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="embedding and scan cache (default $AL_BENCH_CACHE "
                                                                 "or ~/.cache/al_bench)")
    ap.add_argument("--list-ids", action="store_true", help="print every image file's id in .npy row order and exit")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def check_args(args: argparse.Namespace) -> tuple[dict, dict]:
    """(strategy parameters, embedder options), typed, and ``args.strategy`` defaulted; every
    check that needs no image, so a mistake never costs a folder's embedding."""
    from ..picking.inputs import has_labels
    from ..strategies import STRATEGIES

    if args.n is None or args.n < 1:
        raise UserError("-n: give how many images to pick (a count >= 1)")
    import math

    for flag, value, lo, hi in (("--min-distance", args.min_distance, 0.0, math.inf),
                                ("--min-brightness", args.min_brightness, 0.0, 255.0),
                                ("--max-brightness", args.max_brightness, 0.0, 255.0),
                                ("--random-fraction", args.random_fraction, 0.0, 1.0)):
        if value is not None and not (lo <= value <= hi):  # NaN fails every comparison
            raise UserError(f"{flag} {value}: give a number in [{lo:g}, {hi:g}]")
    if args.seed is not None and args.seed < 0:
        raise UserError(f"--seed {args.seed}: give a seed >= 0")
    if args.images_dir is None:
        raise UserError("--images-dir: give the folder of images (or --project DIR)")
    if args.seed is None:
        args.seed = 0
    if args.link and not args.copy_to:
        raise UserError("--link needs --copy-to DIR")
    for flag, folder in (("--out", args.out), ("--copy-to", args.copy_to)):
        if folder is not None:
            _check_folder_target(flag, folder.expanduser())
    images = args.images_dir.expanduser().resolve()
    if args.label_studio_document_root is not None:
        if args.label_studio_prefix is not None:
            raise UserError("--label-studio-prefix and --label-studio-document-root both set the image URLs; "
                            "give one")
        from ..picking.sinks import local_files_prefix

        local_files_prefix(images, args.label_studio_document_root)  # --images-dir must lie under it
    for flag, folder in (("--out", args.out), ("--copy-to", args.copy_to)):
        if folder is not None and folder.expanduser().resolve() == images:
            raise UserError(f"{flag} {folder}: is --images-dir itself; write to another folder (a subfolder is "
                            "fine: output folders are marked and left out of every scan)")
    if args.model is not None and args.task != "segmentation":
        raise UserError("--model is for --task segmentation")
    if args.task == "classification":
        from ..picking.api import STOPPING
        from ..strategies import check_param_values, check_params, needs_model, strategy_params

        args.strategy = args.strategy or "kcenter"
        params = _kv(args.param, "--param")
        check_params(args.strategy, params)
        params = _coerce(params, strategy_params(args.strategy), "--param")
        check_param_values(args.strategy, params)  # types and ranges, before any image is read
        if args.scorer or args.scorer_param:
            raise UserError("--scorer and --scorer-param are for --task detection or segmentation")
        if args.min_distance is not None and args.strategy != STOPPING:
            raise UserError(f"--min-distance is a k-center stop; --strategy {args.strategy} has no such criterion")
        if not 0.0 <= args.random_fraction <= 1.0:
            raise UserError(f"--random-fraction {args.random_fraction}: give a share in [0, 1]")
        if args.min_distance is not None and args.random_fraction > 0:
            raise UserError("--min-distance cannot be combined with --random-fraction")
        if "dropout" in STRATEGIES.entry(args.strategy).needs and args.predictions:
            raise UserError(f"--strategy {args.strategy} runs dropout passes through a head trained here: give a "
                            "--labeled CSV with a 'label' column instead of --predictions")
        if needs_model(args.strategy) and not args.predictions and not has_labels(args.labeled):
            raise UserError(f"--strategy {args.strategy} needs model outputs: give --predictions FILE, or a "
                            "--labeled CSV with a 'label' column to train a head on the labeled images")
    elif args.task == "segmentation" and args.model is not None:
        from ..segmentation.select import RECIPE_ALIASES, SEGMENTATION_STRATEGIES

        args.strategy = args.strategy or "uncertainty"
        if args.strategy not in SEGMENTATION_STRATEGIES and args.strategy not in RECIPE_ALIASES:
            raise UserError(f"--strategy {args.strategy}: with --model the segmentation recipes are "
                            f"{', '.join(SEGMENTATION_STRATEGIES)}")
        given = [f for f, v in (("--predictions", args.predictions), ("--scorer", args.scorer),
                                ("--min-distance", args.min_distance), ("--random-fraction", args.random_fraction or None))
                 if v]
        if given:
            raise UserError(f"--model runs the network; {', '.join(given)} do(es) not apply (the per-image score is "
                            "--provider reduced by --scorer-param reduce=mean|topk|max)")
        args.model = args.model.expanduser()
        if not args.model.is_file():
            raise UserError(f"no such file: {args.model}", key="--model")
        params = _segmentation_checks(args)
    else:
        given = [f for f, v in (("--strategy", args.strategy), ("--param", args.param),
                                ("--min-distance", args.min_distance),
                                ("--random-fraction", args.random_fraction or None)) if v]
        if given:
            raise UserError(f"--task {args.task} ranks by --scorer; {', '.join(given)} do(es) not apply")
        if not args.predictions or not args.scorer:
            raise UserError(f"--task {args.task} needs --predictions FILE and --scorer NAME")
        params = {}
    emb_opts = _kv(args.embedder_opt, "--embedder-opt")
    if args.task == "classification":
        from ..embedders import EMBEDDERS

        if args.embedder not in EMBEDDERS:
            raise UserError(f"--embedder {args.embedder}: unknown; choose one of {sorted(EMBEDDERS)}")
        EMBEDDERS.check_options(args.embedder, emb_opts)
        emb_opts = _coerce(emb_opts, EMBEDDERS.options(args.embedder), "--embedder-opt")
    return params, emb_opts


def _segmentation_checks(args: argparse.Namespace) -> dict:
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
    args.image_size = _image_size(args.image_size)
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


def _image_size(text: str | None):
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


def _check_folder_target(flag: str, folder: Path) -> None:
    """``folder`` is, or can be made, a folder: neither it nor a parent is a file."""
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                what = "exists and is not a folder" if p == folder else f"cannot be created: {p} is a file"
                raise UserError(f"{flag} {folder}: {what}; give a folder")
            return


# -- the flow: ids → inputs → provider → strategy → result → sinks -------------------------------
def _labeled(args: argparse.Namespace, scan) -> tuple[list[str], list[str] | None]:
    """(labeled ids, their labels or None) from --labeled, unreadable images left out."""
    from ..picking.inputs import read_labeled

    if not args.labeled:
        return [], None
    labeled_ids, labels = read_labeled(args.labeled)
    known = set(scan.good)
    unreadable = {r for r, _ in scan.bad} | {r for r, _ in scan.left_out}
    missing = [s for s in labeled_ids if s not in known and s not in unreadable]
    if missing:
        raise UserError(f"--labeled {args.labeled}: {len(missing)} id(s) are not image files under "
                        f"{scan.root} (first: {', '.join(missing[:5])}); ids are paths relative to --images-dir")
    drop = {i for i, s in enumerate(labeled_ids) if s in unreadable}
    if drop:
        _say(f"{len(drop)} labeled image(s) are unreadable or were left out of the scan; they are dropped")
        labeled_ids = [s for i, s in enumerate(labeled_ids) if i not in drop]
        labels = None if labels is None else [v for i, v in enumerate(labels) if i not in drop]
    return labeled_ids, labels


def _brightness_filter(args: argparse.Namespace, scan, is_labeled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(too dark, too bright) masks over the readable images; only candidates are dropped,
    labeled images stay centers."""
    b = scan.brightness
    dark = (b < args.min_brightness) if args.min_brightness is not None else np.zeros(len(b), bool)
    bright = (b > args.max_brightness) if args.max_brightness is not None else np.zeros(len(b), bool)
    if args.min_brightness is not None or args.max_brightness is not None:
        parts = []
        if args.min_brightness is not None:
            parts.append(f"{int((dark & ~is_labeled).sum())} too dark (mean luma < {args.min_brightness:g})")
        if args.max_brightness is not None:
            parts.append(f"{int((bright & ~is_labeled).sum())} too bright (mean luma > {args.max_brightness:g})")
        _say(f"brightness filter: dropped {' and '.join(parts)} of {int((~is_labeled).sum())} unlabeled image(s)")
    return dark, bright


def _features(args: argparse.Namespace, scan, preds, emb_opts: dict, cache_dir: Path):
    """(features (N, d), the embedder that ran or None): an embedding only when the strategy
    reads one (or a head must be trained on it)."""
    from ..strategies import needs_model, reads_features

    good = list(scan.good)
    if not (reads_features(args.strategy) or (needs_model(args.strategy) and preds is None)):
        _say(f"no embedding needed: {args.strategy} reads only {'the predictions' if preds is not None else 'ids'}")
        return np.zeros((len(good), 1), np.float32), None  # the strategy reads only the model outputs
    from ..data.images import ImageFiles
    from ..embedders import embed

    t1 = time.perf_counter()
    emb = embed(ImageFiles(scan.root, good), np.arange(len(good)), args.embedder, scan.fingerprint, cache_dir, 0,
                **emb_opts)
    _say(f"embedded {len(good)} image(s) with {emb.embedder} in {time.perf_counter() - t1:.1f} s "
         f"({'from cache' if emb.from_cache else 'computed, cached at ' + str(emb.cache_file)})")
    return emb.features, emb.embedder


def _segmentation_model(args: argparse.Namespace, scan, is_labeled: np.ndarray, cand: np.ndarray, params: dict,
                        emb_opts: dict, cache_dir: Path):
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


def run(args: argparse.Namespace) -> Path:
    """The command: checks, ids, inputs, features, the pick, sinks. Returns the output folder."""
    from ..picking import select, select_top
    from ..picking.folder import default_cache_dir, find_images, scan_folder
    from ..picking.inputs import align, read_predictions
    from ..picking.sinks import Result, write_sinks
    from ..task_scores import read_task_scores

    cache_dir = (args.cache_dir or default_cache_dir()).expanduser()
    exclude = [args.out] + ([args.copy_to] if args.copy_to else [])
    if args.list_ids:
        # flushed here, so a reader that stopped early (`| head`) is seen in main, not at exit
        print("\n".join(find_images(args.images_dir, exclude, _say, follow_links=args.follow_links)[1]), flush=True)
        return args.images_dir
    params, emb_opts = check_args(args)

    # ids
    t0 = time.perf_counter()
    scan = scan_folder(args.images_dir, cache_dir, progress=not args.quiet, exclude=exclude, say=_say,
                       follow_links=args.follow_links)
    good = list(scan.good)
    _say(f"{len(scan.found)} image file(s) under {scan.root}: {len(good)} readable, {len(scan.bad)} unreadable "
         f"(skipped, listed in unreadable.csv); checked in {time.perf_counter() - t0:.1f} s "
         f"({scan.n_cached} from the scan cache)")
    if not good:
        raise UserError(f"--images-dir {scan.root}: no readable images")
    labeled_ids, labels = _labeled(args, scan)
    is_labeled = np.isin(np.array(good), np.array(labeled_ids, dtype=str))
    dark, bright = _brightness_filter(args, scan, is_labeled)
    cand = ~is_labeled & ~dark & ~bright
    if args.n > int(cand.sum()) and args.min_distance is None:  # before any embedding is computed
        raise UserError(f"-n {args.n}: only {int(cand.sum())} candidate image(s) left (of {len(good)} readable, "
                        f"{int(is_labeled.sum())} labeled); pick at most that many")

    # inputs: model outputs, or per-image task scores
    need_rows = np.flatnonzero(cand)
    what = f"--predictions {args.predictions}"
    preds = task_scores = None
    seg_sel = embedder = None
    if args.task == "segmentation" and args.model is not None:
        seg_sel, embedder = _segmentation_model(args, scan, is_labeled, cand, params, emb_opts, cache_dir)
    elif args.predictions and args.task == "classification":
        p_ids, p = read_predictions(args.predictions, scan.found)
        preds = align(p_ids, np.asarray(p, np.float64), good, need_rows, what)
    elif args.task in ("detection", "segmentation"):
        opts = _kv(args.scorer_param, "--scorer-param")
        ids, values = read_task_scores(args.predictions, args.task, args.scorer, opts)
        task_scores = align(ids, values, good, need_rows, what)[:, 0]

    # the strategy (or the task scorer's ranking)
    if task_scores is None and seg_sel is None:
        features, embedder = _features(args, scan, preds, emb_opts, cache_dir)
    t2 = time.perf_counter()
    if seg_sel is not None:
        sel = seg_sel
    elif task_scores is not None:
        sel = select_top(good, task_scores, args.n, labeled=is_labeled, candidates=cand,
                         rng=args.seed, name=f"{args.task}:{args.scorer}")
    else:
        sel = select(good, features, args.n, args.strategy, labeled=is_labeled, probs=preds, rng=args.seed,
                     labels=None if labels is None else dict(zip(labeled_ids, labels)),  # id → its own label
                     candidates=cand, random_fraction=args.random_fraction, min_distance=args.min_distance, **params)
    _say(f"picked {len(sel)} of {int(cand.sum())} candidate(s) with {sel.strategy} in {time.perf_counter() - t2:.2f} s"
         + (" (stopped by --min-distance)" if sel.stopped == "min_distance" else ""))

    # result → sinks
    result = Result(sel, scan, embedder, n_requested=int(args.n), n_candidates=int(cand.sum()),
                    n_labeled=int(is_labeled.sum()), n_dark=int((dark & ~is_labeled).sum()),
                    n_bright=int((bright & ~is_labeled).sum()), labeled_file=args.labeled,
                    predictions=args.predictions, label_studio_prefix=args.label_studio_prefix,
                    label_studio_root=args.label_studio_document_root,
                    copy_to=args.copy_to, link=args.link)
    out = args.out.expanduser()
    prepared = write_sinks(result, out)
    where = (f"; {'linked' if args.link else 'copied'} {len(prepared['copy'])} file(s) to {args.copy_to}"
             if args.copy_to else "")
    _say(f"wrote {out}/selection.csv, selection.yaml, mosaic.png, label_studio.json{where}")
    return out


PROJECT_EXCLUDES = ("images_dir", "labeled", "predictions", "min_distance", "copy_to", "label_studio_prefix",
                    "label_studio_document_root", "min_brightness", "max_brightness", "list_ids")


def run_project(args: argparse.Namespace) -> Path:
    """``--project DIR``: the project's query (same selection code), kept in the project and
    written to OUT/selection.csv."""
    import pandas as pd

    from ..labeling import LabelingProject
    from ..picking.sinks import mark_output
    from ..runfiles import write_csv
    from ..strategies import STRATEGIES

    given = [k for k in PROJECT_EXCLUDES if getattr(args, k) not in (None, False)]
    seg = args.task == "segmentation" and args.model is not None
    if (args.task != "classification" and not seg) or args.embedder != "auto" or args.embedder_opt:
        given.append("task/embedder")
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserError(f"{flags}: the project supplies its images, labels, embedder "
                        "and model; drop these flags", key="--project")
    if args.n is None or args.n < 1:
        raise UserError("-n: give how many images to pick (a count >= 1)")
    project = LabelingProject.open(args.project.expanduser(), create=False)
    seg_options = None
    if seg:
        from ..segmentation.select import RECIPE_ALIASES, SEGMENTATION_STRATEGIES

        strategy = args.strategy = args.strategy or "uncertainty"
        if strategy not in SEGMENTATION_STRATEGIES and strategy not in RECIPE_ALIASES:
            raise UserError(f"--strategy {strategy}: with --model the segmentation recipes are "
                            f"{', '.join(SEGMENTATION_STRATEGIES)}")
        if args.random_fraction:
            raise UserError("--random-fraction does not apply to the segmentation recipes")
        args.model = args.model.expanduser()
        if not args.model.is_file():
            raise UserError(f"no such file: {args.model}", key="--model")
        params = _segmentation_checks(args)
        scorer = _kv(args.scorer_param, "--scorer-param")
        seg_options = {"arch": args.arch, "num_classes": args.num_classes, "hook_layer": args.hook_layer,
                       "device": args.device, "provider": args.provider, "mc_samples": args.mc_samples,
                       "image_size": args.image_size, "batch_size": args.batch_size,
                       "reduce": str(scorer.get("reduce", "mean")), "topk_fraction": float(scorer.get("topk_fraction", 0.1))}
    else:
        strategy = args.strategy or project.settings.get("strategy") or "kcenter"
        params = _coerce(_kv(args.param or [], "--param"), STRATEGIES.options(strategy), "--param")
    if args.random_fraction and not seg:
        params["random_fraction"] = args.random_fraction
    _check_folder_target("--out", args.out.expanduser())
    sel = project.query(strategy, args.n, subset=args.subset, name=args.selection_name, seed=args.seed,
                        segmentation_model=args.model if seg else None, segmentation=seg_options, **params)
    out = args.out.expanduser()
    mark_output(out)
    write_csv(pd.DataFrame({"rank": range(1, len(sel.ids) + 1), "id": list(sel.ids), "score": list(sel.scores),
                            "strategy": sel.strategy}), out / "selection.csv")
    _say(f"picked {len(sel.ids)} image(s) with {sel.strategy}; kept in {project.folder} as selection {sel.name!r}; "
         f"wrote {out}/selection.csv")
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        run_project(args) if args.project is not None else run(args)
    except UserError as exc:
        print(f"al-bench-select: error: {exc.worded(flag_for)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed by its reader (`--list-ids | head`): stop quietly
        import os

        # the interpreter flushes stdout at exit; pointed at devnull, that flush cannot fail again
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return 141  # 128 + SIGPIPE, what a command killed by the closed pipe reports
    return 0


if __name__ == "__main__":
    sys.exit(main())
