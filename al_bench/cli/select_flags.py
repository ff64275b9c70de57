"""The words and value types of ``al-bench-select``'s flags: how its errors name a key
(:func:`flag_for`), ``KEY=VALUE`` options typed like their defaults, output folders checked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError

__all__ = ["build_parser", "flag_for", "kv", "coerce", "check_folder_target"]

# a key of the request, the config or the folder selection → the flag that sets it
FLAGS = {"embedder": "--embedder", "strategy": "--strategy", "arch": "--arch", "num_classes": "--num-classes",
         "hook_layer": "--hook-layer", "provider": "--provider", "image_size": "--image-size",
         "batch_size": "--batch-size", "mc_samples": "--mc-samples", "device": "--device", "n": "-n",
         "random_fraction": "--random-fraction", "min_distance": "--min-distance", "seed": "--seed",
         "labeled": "--labeled", "images_dir": "--images-dir", "probs": "--predictions",
         "labels": "a --labeled CSV with a 'label' column", "sampling": "--param sampling", "total": "-n",
         "class_balance": "--class-balance", "features": "--features", "feature_ids": "--feature-ids",
         "sample": "--sample"}


def flag_for(key: str) -> str:
    """The flag of this command that sets config key ``key`` (how its errors name keys)."""
    if key.startswith("strategy.params."):
        return "--param " + key[len("strategy.params."):]
    if key.startswith("embedder."):
        return "--embedder-opt " + key[len("embedder."):]
    return FLAGS.get(key, key)


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def kv(items: list[str], flag: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} {item!r}: write KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


def coerce(values: dict, defaults: dict, flag: str) -> dict:
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


def check_folder_target(flag: str, folder: Path) -> None:
    """``folder`` is, or can be made, a folder: neither it nor a parent is a file."""
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                what = "exists and is not a folder" if p == folder else f"cannot be created: {p} is a file"
                raise UserError(f"{flag} {folder}: {what}; give a folder")
            return


def build_parser() -> argparse.ArgumentParser:
    from ..strategies import STRATEGIES
    from . import select as command

    ap = argparse.ArgumentParser(prog="al-bench-select", description=command.__doc__,
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
    ap.add_argument("--target-folder", type=Path, default=None, metavar="DIR",
                    help="images the model will serve (not picked): epig with --param target=heldout measures "
                         "information about their predictions")
    ap.add_argument("--labeled", type=Path, help="CSV with an 'id' column (and 'label' to train a head): images "
                                                 "already labeled; they seed k-center and are never picked")
    ap.add_argument("--predictions", type=Path, help="model outputs per image (.csv, .npz, .npy; see above)")
    ap.add_argument("--task", choices=["classification", "detection", "segmentation"], default="classification",
                    help="what --predictions hold (default classification: class probabilities, or none, ranked "
                         "by --strategy); detection or segmentation: boxes or per-pixel maps per image, ranked "
                         "by --scorer")
    from ..detection.scorers import DETECTION_SCORERS
    from ..segmentation.scorers import PIXEL_SCORERS

    ap.add_argument("--scorer", default=None, help=f"detection: {', '.join(DETECTION_SCORERS)}; segmentation: "
                                                   f"{', '.join(PIXEL_SCORERS)} (their registries)")
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
    emb = ap.add_argument_group("your own embeddings (instead of embedding the images here)")
    emb.add_argument("--features", type=Path, default=None, metavar="FILE",
                     help="ids and vectors your pipeline wrote: .npy (rows in --feature-ids order, or the folder's "
                          "sorted --list-ids order), .npz (arrays 'ids', 'features') or .parquet (column 'id' and a "
                          "list column); float16/float32, memory-mapped where the format allows. With --images-dir the "
                          "ids must be its image files; without it the selection runs on the ids alone (no mosaic)")
    emb.add_argument("--feature-ids", type=Path, default=None, metavar="FILE",
                     help="with an .npy --features: its rows' ids, one per line (or a CSV with an 'id' column)")
    emb.add_argument("--features-column", default=None, metavar="NAME",
                     help="with a Parquet --features: the vector column (default 'features', or the only other one)")
    ap.add_argument("--embedder", default="auto", help="embedder name (default auto: DINOv2 if its weights load, "
                                                       "else the offline kmeans_patches)")
    ap.add_argument("--embedder-opt", action="append", metavar="KEY=VALUE",
                    help="embedder option, e.g. weights=/path/dinov2.pth or device=cpu")
    ap.add_argument("--min-brightness", type=float, default=None, help="drop images darker than this mean luma (0-255)")
    ap.add_argument("--max-brightness", type=float, default=None, help="drop images brighter than this mean luma (0-255)")
    ap.add_argument("--min-distance", type=float, default=None,
                    help="kcenter: stop once the farthest remaining image is closer than this (embedding units)")
    ap.add_argument("--random-fraction", type=float, default=0.0, help="share of the batch drawn uniformly")
    ap.add_argument("--sample", type=int, default=None, metavar="N",
                    help="approximate mode for very large pools: run the strategy on N candidates drawn uniformly "
                         "(every labeled image kept); recorded in selection.yaml (default: every candidate)")
    ap.add_argument("--class-balance", choices=("none", "fallback", "predicted"), default="none",
                    help="predicted: split the batch into quotas per predicted class, best-scored first; fallback: "
                         "aim part of it at classes whose labels fall below a quarter of their estimated share "
                         "(needs --labeled with labels, or --project; default none)")
    ap.add_argument("--seed", type=int, default=None, help="seed of every random choice, stream(seed, 'pick') (default "
                                                          "0; with --project: stream(project seed, 'query', k))")
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
