"""``al-bench-select``: pick the next images to label from a folder, and hand them off.

    al-bench-select --images-dir DIR -n 50 --strategy kcenter [--labeled labeled.csv]
                    [--predictions preds.csv|.npy|.npz] [--embedder auto] [--out DIR]

Scans DIR recursively (.jpg .jpeg .png .webp .bmp; ids are POSIX paths relative to DIR, hidden
entries ignored), skips unreadable files (listed in OUT/unreadable.csv), drops too-dark or
blown-out images when asked, embeds the rest (cached per folder, so a second call with another
strategy only scores), runs a registered strategy through :func:`al_bench.select` and writes

    OUT/selection.csv         rank, id, score, strategy
    OUT/selection.yaml        the hand-off: strategy, parameters, source, counts, ids
    OUT/mosaic.png            a preview grid of the picks with their ids
    OUT/label_studio.json     a Label Studio task import (one task per pick)
    --copy-to DIR             the picked files copied (or --link'ed) under their relative paths

Model outputs for uncertainty strategies (entropy, margin, least_confidence, bald, badge,
hybrid) come from ``--predictions`` or from a linear head trained on the ``--labeled`` images'
features (labels in the CSV's ``label`` column). Predictions formats:

- ``.csv``: an ``id`` column and one probability column per class (rows sum to 1);
- ``.npz``: arrays ``ids`` (N,) and ``probs`` (N, C) or MC-dropout samples (K, N, C);
- ``.npy``: (N, C) or (K, N, C), rows in the sorted order of all image files found (as listed
  by ``--list-ids``);
- with ``--task detection``: JSON Lines (or a JSON list) of ``{"id", "boxes", "objectness",
  "probs"}`` per image, scored by ``--scorer`` (see al_bench.task_scores);
- with ``--task segmentation``: ``.npz`` of per-pixel probability maps, scored by
  ``--scorer`` and reduced by ``--reduce``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .errors import UserError
from .results import atomic_write_text

log = logging.getLogger("al_bench.select")

SCAN_FILE = "scan.csv"
TILE, CAPTION, MOSAIC_MAX = 128, 16, 256


def _say(msg: str) -> None:
    print(f"al-bench-select: {msg}", file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    """``$AL_BENCH_CACHE``, else ``$XDG_CACHE_HOME/al_bench``, else ``~/.cache/al_bench``."""
    if os.environ.get("AL_BENCH_CACHE"):
        return Path(os.environ["AL_BENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "al_bench"


# -- scanning: ids, readability, brightness (cached per file) ---------------------------------
@dataclass(frozen=True)
class FolderScan:
    root: Path
    found: tuple[str, ...]  # every image file, sorted (the .npy predictions row order)
    good: tuple[str, ...]  # decodable ones, sorted
    bad: tuple[tuple[str, str], ...]  # (id, reason)
    brightness: np.ndarray  # (len(good),) mean luma 0–255 of each good image
    fingerprint: str  # folder + every good file's path, size and mtime
    n_cached: int  # files whose check came from the scan cache


def _inspect(path: Path) -> tuple[str, float]:
    """('' or why unreadable, mean luma 0–255); decodes once, JPEGs in draft mode."""
    from PIL import Image

    if path.stat().st_size == 0:
        return "empty file", float("nan")
    try:
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))
            im.load()
            small = im.convert("L")
            small.thumbnail((64, 64))
            return "", float(np.asarray(small, np.float64).mean())
    except Exception as exc:  # PIL raises several types for bad files
        return f"{type(exc).__name__}: {exc}", float("nan")


def _inside(root: Path, folders: list[Path]) -> list[str]:
    """POSIX prefixes (``sub/``) of those ``folders`` that lie inside ``root``."""
    out = []
    for f in folders:
        try:
            out.append(f.expanduser().resolve().relative_to(root).as_posix().rstrip("/") + "/")
        except ValueError:
            continue
    return out


def find_images(root: Path, exclude: list[Path] | None, say: bool = False) -> tuple[Path, list[str]]:
    """(resolved root, sorted ids of the image files under it, none under ``exclude``)."""
    from .datasets import scan_images

    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"--images-dir: no such folder: {root}")
    found = scan_images(root)
    prefixes = [p for p in _inside(root, exclude or []) if p != "./"]
    if prefixes:
        n0 = len(found)
        found = [r for r in found if not r.startswith(tuple(prefixes))]
        if say and len(found) < n0:
            _say(f"left out {n0 - len(found)} image(s) under the output folder(s) {', '.join(prefixes)}")
    return root, found


def scan_folder(root: Path, cache_dir: Path, progress: bool = True, exclude: list[Path] | None = None) -> FolderScan:
    """Every image under ``root`` (none under ``exclude``, e.g. the output folder), checked once."""
    from tqdm.auto import tqdm

    root, found = find_images(root, exclude, say=True)
    if not found:
        raise UserError(f"--images-dir {root}: no image files (.jpg .jpeg .png .webp .bmp) found")
    scan_path = cache_dir / "folders" / hashlib.sha256(str(root).encode()).hexdigest()[:16] / SCAN_FILE
    old: dict[tuple[str, int, int], tuple[str, float]] = {}
    try:
        with open(scan_path, newline="") as f:
            for r in csv.DictReader(f):
                old[(r["id"], int(r["size"]), int(r["mtime_ns"]))] = (r["reason"], float(r["brightness"]))
    except FileNotFoundError:
        pass
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as exc:  # a damaged cache is rebuilt
        _say(f"ignoring an unreadable scan cache {scan_path} ({type(exc).__name__}: {exc})")
        old = {}
    rows, good, bad, bright, n_cached = [], [], [], [], 0
    h = hashlib.sha256(str(root).encode())
    for rel in tqdm(found, desc="checking images", unit="img", disable=not progress or len(found) < 200, leave=False):
        st = os.stat(root / rel)
        key = (rel, st.st_size, st.st_mtime_ns)
        if key in old:
            reason, b = old[key]
            n_cached += 1
        else:
            reason, b = _inspect(root / rel)
        if not reason.startswith("PermissionError"):  # may pass after a chmod (same mtime): not cached
            rows.append((rel, st.st_size, st.st_mtime_ns, reason, b))
        if reason:
            bad.append((rel, reason))
        else:
            good.append(rel)
            bright.append(b)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "size", "mtime_ns", "reason", "brightness"])
    w.writerows(rows)
    try:
        atomic_write_text(scan_path, out.getvalue())
    except OSError as exc:
        _say(f"could not write the scan cache {scan_path} ({exc}); the next run checks every file again")
    return FolderScan(root, tuple(found), tuple(good), tuple(bad), np.array(bright, np.float64), h.hexdigest(), n_cached)


# -- inputs ------------------------------------------------------------------------------------
def read_labeled(path: Path) -> tuple[list[str], list[str] | None]:
    """(ids, labels or None) from a CSV with an ``id`` column and optionally ``label``."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"--labeled {path}: cannot read ({exc})") from None
    if "id" not in df.columns:
        raise UserError(f"--labeled {path}: needs an 'id' column (and 'label' to train a head); has {list(df.columns)}")
    ids = df["id"].str.strip().tolist()
    dup = df["id"][df["id"].duplicated()].tolist()  # pandas: linear time
    if dup:
        raise UserError(f"--labeled {path}: repeated ids: {', '.join(dup[:5])}")
    labels = None
    if "label" in df.columns:
        labels = df["label"].str.strip().tolist()
        empty = [i for i, v in zip(ids, labels) if not v]
        if empty:
            raise UserError(f"--labeled {path}: {len(empty)} row(s) have an empty label (first: {', '.join(empty[:5])}); "
                            "give every label, or drop the 'label' column to use the ids only as k-center seeds")
    return ids, labels


def read_predictions(path: Path, scan: FolderScan) -> tuple[list[str], np.ndarray]:
    """(ids, probs (N, C) or MC samples (K, N, C)) from a .csv, .npz or .npy predictions file."""
    import zipfile

    if not path.is_file():
        raise UserError(f"--predictions: no such file: {path}")
    try:
        ids, p = _read_predictions(path, scan)
        p = np.asarray(p, np.float64)
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"--predictions {path}: cannot read it ({type(exc).__name__}: {exc})") from None
    if p.ndim not in (2, 3) or p.shape[-2] != len(ids) or p.shape[-1] < 2:
        raise UserError(f"--predictions {path}: probabilities must be (N, C) or (K, N, C) with one row per id "
                        f"({len(ids)} ids) and C >= 2 classes; got shape {p.shape}")
    return ids, p


def _read_predictions(path: Path, scan: FolderScan) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = pd.read_csv(path)
        if "id" not in df.columns or df.shape[1] < 3:
            raise UserError(f"--predictions {path}: needs an 'id' column and one probability column per class "
                            f"(at least 2); has {list(df.columns)}")
        cols = [c for c in df.columns if c != "id"]
        nonnum = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
        if nonnum:
            raise UserError(f"--predictions {path}: columns {nonnum} are not numbers")
        return df["id"].astype(str).tolist(), df[cols].to_numpy(np.float64)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "ids" not in z or "probs" not in z:  # (ids saved as an object array fail to load: use str)
                raise UserError(f"--predictions {path}: an .npz needs arrays 'ids' and 'probs'; has {list(z.keys())}")
            return [str(s) for s in z["ids"].tolist()], np.asarray(z["probs"])
    if suffix == ".npy":
        p = np.load(path, allow_pickle=False)
        if p.ndim not in (2, 3) or p.shape[-2] != len(scan.found):
            raise UserError(f"--predictions {path}: an .npy must be (N, C) or (K, N, C) with one row per image file "
                            f"found ({len(scan.found)}, in the sorted order of --list-ids), got {p.shape}")
        return list(scan.found), p
    raise UserError(f"--predictions {path}: use .csv, .npz or .npy (or --task detection/segmentation)")


def align(ids: list[str], values: np.ndarray, good: list[str], need: np.ndarray, what: str) -> np.ndarray:
    """Rows of ``values`` (one per id) reordered to ``good``; rows for ``need`` must exist."""
    known = set(good)
    index = {s: i for i, s in enumerate(ids)}
    if len(index) != len(ids):
        from collections import Counter

        dup = sorted(s for s, c in Counter(ids).items() if c > 1)
        raise UserError(f"{what}: repeated ids: {', '.join(dup[:5])}")
    strangers = [s for s in ids if s not in known]
    missing = [good[i] for i in need if good[i] not in index]
    if missing:
        raise UserError(f"{what}: no prediction for {len(missing)} image(s) that may be picked "
                        f"(first: {', '.join(missing[:5])})")
    if strangers:
        log.info("%s: %d id(s) are not readable images of the folder and are ignored", what, len(strangers))
    shape = list(values.shape)
    shape[-2] = len(good)
    out = np.full(shape, np.nan)
    have = [i for i, s in enumerate(good) if s in index]
    src = [index[good[i]] for i in have]
    if values.ndim == 2:
        out[have] = values[src]
    else:
        out[:, have] = values[:, src]
    return out


# -- sinks -------------------------------------------------------------------------------------
def write_mosaic(path: Path, root: Path, ids: list[str], cols: int | None = None) -> tuple[int, int]:
    """A grid of thumbnails (TILE px) with each id under it; returns (rows, cols)."""
    from PIL import Image, ImageDraw

    ids = ids[:MOSAIC_MAX]
    cols = cols or max(1, min(10, int(np.ceil(np.sqrt(len(ids))))))
    rows = max(1, -(-len(ids) // cols))
    sheet = Image.new("RGB", (cols * TILE, rows * (TILE + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, rel in enumerate(ids):
        r, c = divmod(k, cols)
        with Image.open(root / rel) as im:
            im.draft("RGB", (TILE, TILE))
            im = im.convert("RGB")
        scale = TILE / max(im.size)  # fit the tile: shrink large images, enlarge small ones
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC)
        x0, y0 = c * TILE, r * (TILE + CAPTION)
        sheet.paste(im, (x0 + (TILE - im.width) // 2, y0 + (TILE - im.height) // 2))
        label = rel if len(rel) <= 20 else "..." + rel[-17:]  # ASCII: any Pillow's default font draws it
        draw.text((x0 + 2, y0 + TILE + 2), label, fill="black")
    sheet.save(path, format="PNG")
    return rows, cols


def _copy_plan(copy_to: Path, root: Path, ids: list[str]) -> list[tuple[Path, Path]]:
    """(source, destination) pairs; fails before copying anything if a different file is in the way."""
    plan, clash = [], []
    for rel in ids:
        src, dst = root / rel, copy_to / rel
        if dst.exists() or dst.is_symlink():
            same = dst.resolve() == src.resolve() or (dst.is_file() and dst.stat().st_size == src.stat().st_size
                                                      and dst.read_bytes() == src.read_bytes())
            if not same:
                clash.append(str(dst))
            continue
        plan.append((src, dst))
    if clash:
        raise UserError(f"--copy-to: {len(clash)} different file(s) already exist there (first: {clash[0]}); "
                        "choose an empty folder")
    return plan


def label_studio_tasks(ids: list[str], scores: np.ndarray, strategy: str, prefix: str) -> list[dict]:
    """One Label Studio task per pick: ``data.image`` = prefix + id (URL-quoted), plus rank/score."""
    from urllib.parse import quote

    return [{"data": {"image": prefix + quote(rel), "al_bench_id": rel, "al_bench_rank": k + 1,
                      "al_bench_score": None if not np.isfinite(s) else float(s), "al_bench_strategy": strategy}}
            for k, (rel, s) in enumerate(zip(ids, scores))]


# -- the command -------------------------------------------------------------------------------
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


def _has_labels(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        with open(path, newline="") as f:
            return "label" in next(csv.reader(f), [])
    except OSError as exc:
        raise UserError(f"--labeled {path}: cannot read ({exc})") from None


# config-key wording from the shared code, as this command's flags
_CLI_WORDS = [
    (r"embedder\.weights=PATH", "--embedder-opt weights=PATH"),
    (r"use embedder=(\w+)", r"use --embedder \1"),
    (r"strategy\.params\.(\w+)", r"--param \1"),
    (r"embedder\.(\w+)", r"--embedder-opt \1"),
]


def cli_wording(msg: str) -> str:
    import re

    for pat, rep in _CLI_WORDS:
        msg = re.sub(pat, rep, msg)
    return msg


def build_parser() -> argparse.ArgumentParser:
    from .strategies import REGISTRY

    ap = argparse.ArgumentParser(prog="al-bench-select", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images-dir", required=True, type=Path, help="folder of unlabeled (and labeled) images")
    ap.add_argument("-n", type=int, default=None, help="how many images to pick (required unless --list-ids)")
    ap.add_argument("--strategy", default=None, choices=sorted(REGISTRY),
                    help="a registered strategy (default kcenter); with --task detection/segmentation the "
                         "ranking is by --scorer instead")
    ap.add_argument("--param", action="append", metavar="KEY=VALUE", help="a strategy parameter, e.g. k=20 for bald")
    ap.add_argument("--labeled", type=Path, help="CSV with an 'id' column (and 'label' to train a head): images "
                                                 "already labeled; they seed k-center and are never picked")
    ap.add_argument("--predictions", type=Path, help="model outputs per image (.csv, .npz, .npy; see above)")
    ap.add_argument("--task", choices=["classification", "detection", "segmentation"], default="classification")
    ap.add_argument("--scorer", default=None, help="detection: object_frequency, objectness_least_confidence, "
                                                   "box_entropy, box_margin, box_least_confidence; segmentation: "
                                                   "entropy, margin, least_confidence, bald")
    ap.add_argument("--scorer-param", action="append", metavar="KEY=VALUE",
                    help="a scorer option, e.g. class_penalty=0.5, reduce=topk, topk_fraction=0.05")
    ap.add_argument("--embedder", default="auto", help="embedder name (default auto: DINOv2 if its weights load, "
                                                       "else the offline kmeans_patches)")
    ap.add_argument("--embedder-opt", action="append", metavar="KEY=VALUE",
                    help="embedder option, e.g. weights=/path/dinov2.pth or device=cpu")
    ap.add_argument("--min-brightness", type=float, default=None, help="drop images darker than this mean luma (0-255)")
    ap.add_argument("--max-brightness", type=float, default=None, help="drop images brighter than this mean luma (0-255)")
    ap.add_argument("--min-distance", type=float, default=None,
                    help="kcenter: stop once the farthest remaining image is closer than this (embedding units)")
    ap.add_argument("--random-fraction", type=float, default=0.0, help="share of the batch drawn uniformly")
    ap.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    ap.add_argument("--out", type=Path, default=Path("selection"), help="output folder (default ./selection)")
    ap.add_argument("--copy-to", type=Path, help="copy the picked files here, under their relative paths")
    ap.add_argument("--link", action="store_true", help="with --copy-to: symlink instead of copying")
    ap.add_argument("--label-studio-prefix", default=None,
                    help="URL prefix of the images in label_studio.json (default: Label Studio local files, "
                         "/data/local-files/?d=<images-dir without its leading slash>/)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="embedding and scan cache (default $AL_BENCH_CACHE "
                                                                 "or ~/.cache/al_bench)")
    ap.add_argument("--list-ids", action="store_true", help="print every image file's id in .npy row order and exit")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def run(args: argparse.Namespace) -> Path:
    from .embed import embed
    from .images import ImageFiles
    from .selection import FEATURE_FREE_WITH_OUTPUTS, MODEL_FREE, Selection, select, select_top

    cache_dir = (args.cache_dir or default_cache_dir()).expanduser()
    exclude = [args.out] + ([args.copy_to] if args.copy_to else [])
    if args.list_ids:
        print("\n".join(find_images(args.images_dir, exclude)[1]))
        return args.images_dir
    # every check that needs no image comes first: a mistake must not cost a folder's embedding
    if args.n is None or args.n < 1:
        raise UserError("-n: give how many images to pick (a count >= 1)")
    if args.seed < 0:
        raise UserError(f"--seed {args.seed}: give a seed >= 0")
    if args.link and not args.copy_to:
        raise UserError("--link needs --copy-to DIR")
    out = args.out.expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if args.task == "classification":
        from .strategies import check_params, strategy_params

        args.strategy = args.strategy or "kcenter"
        params = _kv(args.param, "--param")
        check_params(args.strategy, params)
        params = _coerce(params, strategy_params(args.strategy), "--param")
        if args.scorer or args.scorer_param:
            raise UserError("--scorer and --scorer-param are for --task detection or segmentation")
        if args.min_distance is not None and args.strategy != "kcenter":
            raise UserError(f"--min-distance is a k-center stop; --strategy {args.strategy} has no such criterion")
        if not 0.0 <= args.random_fraction <= 1.0:
            raise UserError(f"--random-fraction {args.random_fraction}: give a share in [0, 1]")
        if args.min_distance is not None and args.random_fraction > 0:
            raise UserError("--min-distance cannot be combined with --random-fraction")
        if args.strategy not in MODEL_FREE and not args.predictions and not _has_labels(args.labeled):
            raise UserError(f"--strategy {args.strategy} needs model outputs: give --predictions FILE, or a "
                            "--labeled CSV with a 'label' column to train a head on the labeled images")
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
        from .embed import EMBEDDERS, check_options

        if args.embedder not in EMBEDDERS:
            raise UserError(f"--embedder {args.embedder}: unknown; choose one of {sorted(EMBEDDERS)}")
        check_options(args.embedder, emb_opts)
        import inspect

        defaults = {k: v.default for k, v in inspect.signature(EMBEDDERS[args.embedder].fn).parameters.items()}
        emb_opts = _coerce(emb_opts, defaults, "--embedder-opt")

    t0 = time.perf_counter()
    scan = scan_folder(args.images_dir, cache_dir, progress=not args.quiet, exclude=exclude)
    good = list(scan.good)
    _say(f"{len(scan.found)} image file(s) under {scan.root}: {len(good)} readable, {len(scan.bad)} unreadable "
         f"(skipped, listed in unreadable.csv); checked in {time.perf_counter() - t0:.1f} s "
         f"({scan.n_cached} from the scan cache)")
    if not good:
        raise UserError(f"--images-dir {scan.root}: no readable images")

    labeled_ids, labels = ([], None)
    if args.labeled:
        labeled_ids, labels = read_labeled(args.labeled)
        known = set(good)
        unreadable = {r for r, _ in scan.bad}
        missing = [s for s in labeled_ids if s not in known and s not in unreadable]
        if missing:
            raise UserError(f"--labeled {args.labeled}: {len(missing)} id(s) are not image files under "
                            f"{scan.root} (first: {', '.join(missing[:5])}); ids are paths relative to --images-dir")
        drop = {i for i, s in enumerate(labeled_ids) if s in unreadable}
        if drop:
            _say(f"{len(drop)} labeled image(s) are unreadable and are left out")
            labeled_ids = [s for i, s in enumerate(labeled_ids) if i not in drop]
            labels = None if labels is None else [v for i, v in enumerate(labels) if i not in drop]
    is_labeled = np.isin(np.array(good), np.array(labeled_ids, dtype=str))

    # brightness pre-filter: only candidates are dropped; labeled images stay centers
    b = scan.brightness
    dark = (b < args.min_brightness) if args.min_brightness is not None else np.zeros(len(good), bool)
    bright = (b > args.max_brightness) if args.max_brightness is not None else np.zeros(len(good), bool)
    cand = ~is_labeled & ~dark & ~bright
    if args.min_brightness is not None or args.max_brightness is not None:
        parts = []
        if args.min_brightness is not None:
            parts.append(f"{int((dark & ~is_labeled).sum())} too dark (mean luma < {args.min_brightness:g})")
        if args.max_brightness is not None:
            parts.append(f"{int((bright & ~is_labeled).sum())} too bright (mean luma > {args.max_brightness:g})")
        _say(f"brightness filter: dropped {' and '.join(parts)} of {int((~is_labeled).sum())} unlabeled image(s)")

    need_rows = np.flatnonzero(cand)
    preds = None
    task_scores = None
    if args.predictions and args.task == "classification":
        p_ids, p = read_predictions(args.predictions, scan)
        preds = align(p_ids, np.asarray(p, np.float64), good, need_rows, f"--predictions {args.predictions}")
    elif args.task in ("detection", "segmentation"):
        task_scores = align(*_task_scores(args), good, need_rows, f"--predictions {args.predictions}")[:, 0]

    features = None
    embedder = None
    needs_features = task_scores is None and not (
        args.strategy == "random" or (preds is not None and args.strategy in FEATURE_FREE_WITH_OUTPUTS))
    if not needs_features and task_scores is None:
        features = np.zeros((len(good), 1), np.float32)  # the strategy reads only the model outputs
        _say(f"no embedding needed: {args.strategy} reads only {'the predictions' if preds is not None else 'ids'}")
    if needs_features:
        t1 = time.perf_counter()
        images = ImageFiles(scan.root, good)
        emb = embed(images, np.arange(len(good)), args.embedder, scan.fingerprint, cache_dir, 0, **emb_opts)
        features, embedder = emb.features, emb.embedder
        _say(f"embedded {len(good)} image(s) with {embedder} in {time.perf_counter() - t1:.1f} s "
             f"({'from cache' if emb.from_cache else 'computed, cached at ' + str(emb.cache_file)})")

    t2 = time.perf_counter()
    if task_scores is not None:
        sel: Selection = select_top(good, task_scores, args.n, labeled=is_labeled, candidates=cand,
                                    rng=args.seed, name=f"{args.task}:{args.scorer}")
    else:
        sel = select(good, features, args.n, args.strategy, labeled=is_labeled, probs=preds, rng=args.seed,
                     labels=None if labels is None else dict(zip(labeled_ids, labels)),  # id → its own label
                     candidates=cand, random_fraction=args.random_fraction, min_distance=args.min_distance, **params)
    _say(f"picked {len(sel)} of {int(cand.sum())} candidate(s) with {sel.strategy} in {time.perf_counter() - t2:.2f} s"
         + (" (stopped by --min-distance)" if sel.stopped == "min_distance" else ""))
    return write_outputs(args, scan, sel, embedder, int(cand.sum()), int(is_labeled.sum()),
                         int((dark & ~is_labeled).sum()), int((bright & ~is_labeled).sum()))


def _task_scores(args) -> tuple[list[str], np.ndarray]:
    """(ids, one score per image) from a detection or segmentation predictions file."""
    from . import task_scores as T

    opts = _kv(args.scorer_param, "--scorer-param")
    try:
        if args.task == "detection":
            fn = T.DETECTION_SCORERS.get(args.scorer)
            if fn is None:
                raise UserError(f"--scorer {args.scorer!r}: detection scorers are {sorted(T.DETECTION_SCORERS)}")
            ids, dets = T.detections_from_json(args.predictions)
            values = fn(dets, **opts)
        else:
            if args.scorer not in T.SEGMENTATION_METHODS:
                raise UserError(f"--scorer {args.scorer!r}: segmentation scorers are {list(T.SEGMENTATION_METHODS)}")
            ids, maps = T.segmentation_from_npz(args.predictions)
            values = T.segmentation_scores(maps, method=args.scorer, **opts)
    except (ValueError, TypeError, OSError) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"--predictions {args.predictions} ({args.task}, --scorer {args.scorer}): {exc}") from None
    return list(ids), np.asarray(values, np.float64)[:, None]


def write_outputs(args, scan: FolderScan, sel, embedder, n_cand: int, n_labeled: int, n_dark: int,
                  n_bright: int) -> Path:
    """Every sink, written in a temporary folder and moved into --out only when all succeeded."""
    import pandas as pd
    import yaml

    out = args.out.expanduser()
    ids = list(sel.ids)
    plan = _copy_plan(args.copy_to.expanduser(), scan.root, ids) if args.copy_to else []
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".partial-"))
    try:
        sel.frame()[["rank", "id", "score", "strategy"]].to_csv(tmp / "selection.csv", index=False, lineterminator="\n")
        pd.DataFrame(scan.bad, columns=["id", "reason"]).to_csv(tmp / "unreadable.csv", index=False, lineterminator="\n")
        handoff = {
            "al_bench_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "strategy": sel.strategy,
            "params": {k: (v.item() if hasattr(v, "item") else v) for k, v in sel.params.items()},
            "score": _score_meaning(sel.strategy),
            "source": {"images_dir": str(scan.root), "files_found": len(scan.found), "readable": len(scan.good),
                       "unreadable": len(scan.bad), "labeled": n_labeled, "dropped_too_dark": n_dark,
                       "dropped_too_bright": n_bright, "candidates": n_cand, "embedder": embedder,
                       "labeled_file": str(args.labeled) if args.labeled else None,
                       "predictions": str(args.predictions) if args.predictions else None},
            "n_requested": int(args.n),
            "n_selected": len(ids),
            "stopped_by": sel.stopped,
            "ids": ids,
        }
        (tmp / "selection.yaml").write_text(yaml.safe_dump(handoff, sort_keys=False, allow_unicode=True))
        prefix = args.label_studio_prefix
        if prefix is None:
            from urllib.parse import quote

            prefix = "/data/local-files/?d=" + quote(str(scan.root).lstrip("/")) + "/"
        (tmp / "label_studio.json").write_text(json.dumps(label_studio_tasks(ids, sel.scores, sel.strategy, prefix),
                                                          indent=1) + "\n")
        if ids:
            write_mosaic(tmp / "mosaic.png", scan.root, ids)
        for src, dst in plan:  # each file lands whole (temporary name, then rename) or not at all
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                part = dst.with_name(f".{dst.name}.partial")
                part.unlink(missing_ok=True)
                if args.link:
                    part.symlink_to(src)
                else:
                    shutil.copy2(src, part)
                os.replace(part, dst)
            except OSError as exc:
                raise UserError(f"--copy-to: cannot write {dst} ({exc}); files copied so far are complete, "
                                f"a rerun skips them") from None
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
        if not ids:
            (out / "mosaic.png").unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    where = f"; {'linked' if args.link else 'copied'} {len(plan)} file(s) to {args.copy_to}" if args.copy_to else ""
    _say(f"wrote {out}/selection.csv, selection.yaml, mosaic.png, label_studio.json{where}")
    return out


def _score_meaning(strategy: str) -> str:
    from .selection import SCORE_MEANING

    if ":" in strategy:
        return f"{strategy.split(':', 1)[1]} score of the {strategy.split(':', 1)[0]} predictions (higher = more informative)"
    return SCORE_MEANING.get(strategy, "none")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except UserError as exc:
        print(f"al-bench-select: error: {cli_wording(str(exc))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
