"""A selection from a folder of images, end to end: ids → inputs → features → the pick → sinks.

What ``al-bench-select --images-dir`` runs once its flags are checked (:mod:`al_bench.cli.select`
keeps the parser, the flag wording of errors and the dispatch). The request is a checked
:class:`~al_bench.picking.request.SelectionRequest`; :class:`FolderPick` holds the rest (the
folder, the files that come with it, the filters and the hand-off). A task other than
classification ranks its own way (per-image detection or segmentation scores, a segmentation
network run on the candidates) and comes in as ``ranking``, so that picking imports neither.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import UserError
from .request import SelectionRequest, count

__all__ = ["FolderPick", "pick_folder", "labeled_in_scan", "brightness_filter"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class FolderPick:
    """Everything of a folder selection but the request (see ``al-bench-select --help``)."""

    images_dir: Path
    out: Path
    cache_dir: Path
    labeled: Path | None = None
    predictions: Path | None = None
    task: str = "classification"
    scorer: str | None = None
    scorer_options: dict[str, Any] = field(default_factory=dict)
    embedder: str = "auto"
    embedder_options: dict[str, Any] = field(default_factory=dict)
    min_brightness: float | None = None
    max_brightness: float | None = None
    copy_to: Path | None = None
    link: bool = False
    label_studio_prefix: str | None = None
    label_studio_document_root: Path | None = None
    follow_links: bool = False
    quiet: bool = False
    target_folder: Path | None = None  # images the model will serve (EPIG's held-out targets)

    @property
    def excluded(self) -> list[Path]:
        """The folders this selection writes, and the target folder, left out of the scan."""
        return self.written + ([self.target_folder] if self.target_folder else [])

    @property
    def written(self) -> list[Path]:
        """The folders this selection writes."""
        return [self.out] + ([self.copy_to] if self.copy_to else [])


def labeled_in_scan(labeled: Path | None, scan, say: Say) -> tuple[list[str], list[str] | None]:
    """(labeled ids, their labels or None) from the ``labeled`` CSV, unreadable images left out."""
    from .inputs import read_labeled

    if not labeled:
        return [], None
    labeled_ids, labels = read_labeled(labeled)
    known = set(scan.good)
    unreadable = {r for r, _ in scan.bad} | {r for r, _ in scan.left_out}
    missing = [s for s in labeled_ids if s not in known and s not in unreadable]
    if missing:
        raise UserError(f"{{labeled}} {labeled}: {len(missing)} id(s) are not image files under {scan.root} (first: "
                        f"{', '.join(missing[:5])}); ids are paths relative to {{images_dir}}",
                        refs={"labeled": "labeled", "images_dir": "images_dir"})
    drop = {i for i, s in enumerate(labeled_ids) if s in unreadable}
    if drop:
        say(f"{len(drop)} labeled image(s) are unreadable or were left out of the scan; they are dropped")
        labeled_ids = [s for i, s in enumerate(labeled_ids) if i not in drop]
        labels = None if labels is None else [v for i, v in enumerate(labels) if i not in drop]
    return labeled_ids, labels


def brightness_filter(opts: FolderPick, scan, is_labeled: np.ndarray, say: Say) -> tuple[np.ndarray, np.ndarray]:
    """(too dark, too bright) masks over the readable images; only candidates are dropped,
    labeled images stay centers."""
    lo, hi = opts.min_brightness, opts.max_brightness
    b = scan.brightness
    dark = (b < lo) if lo is not None else np.zeros(len(b), bool)
    bright = (b > hi) if hi is not None else np.zeros(len(b), bool)
    if lo is not None or hi is not None:
        parts = []
        if lo is not None:
            parts.append(f"{int((dark & ~is_labeled).sum())} too dark (mean luma < {lo:g})")
        if hi is not None:
            parts.append(f"{int((bright & ~is_labeled).sum())} too bright (mean luma > {hi:g})")
        say(f"brightness filter: dropped {' and '.join(parts)} of {int((~is_labeled).sum())} unlabeled image(s)")
    return dark, bright


def _features(req: SelectionRequest, opts: FolderPick, scan, preds, say: Say):
    """(features (N, d), the embedder that ran or None): an embedding only when the strategy
    reads one (or a head must be trained on it)."""
    from ..strategies import needs_model, reads_features

    good = list(scan.good)
    if not (reads_features(req.strategy) or (needs_model(req.strategy) and preds is None)):
        say(f"no embedding needed: {req.strategy} reads only {'the predictions' if preds is not None else 'ids'}")
        return np.zeros((len(good), 1), np.float32), None  # the strategy reads only the model outputs
    from ..data.images import ImageFiles
    from ..embedders import embed

    t1 = time.perf_counter()
    emb = embed(ImageFiles(scan.root, good), np.arange(len(good)), opts.embedder, scan.fingerprint, opts.cache_dir, 0,
                **opts.embedder_options)
    say(f"embedded {len(good)} image(s) with {emb.embedder} in {time.perf_counter() - t1:.1f} s "
        f"({'from cache' if emb.from_cache else 'computed, cached at ' + str(emb.cache_file)})")
    return emb.features, emb.embedder


def _with_target(opts: FolderPick, scan, say: Say):
    """(features (N, d), the ``target_folder`` images' features (T, d), the embedder): one
    embedding of the pool's and the target's images together, fitted on the pool's alone (an
    embedder that learns anything, e.g. a PCA, puts both in one space), cached under both folders'
    fingerprints."""
    import hashlib
    import os

    from ..data.images import ImageFiles
    from ..embedders import embed
    from .folder import scan_folder

    tscan = scan_folder(opts.target_folder, opts.cache_dir, progress=not opts.quiet, exclude=opts.written, say=say,
                        follow_links=opts.follow_links)
    pool, served = list(scan.good), list(tscan.good)
    if not served:
        raise UserError(f"{tscan.root}: no readable images", key="target_folder")
    root = Path(os.path.commonpath([scan.root, tscan.root]))
    rel = [os.path.relpath(scan.root / r, root) for r in pool] + [os.path.relpath(tscan.root / r, root) for r in served]
    key = hashlib.sha256(f"{scan.fingerprint}\0{tscan.fingerprint}".encode()).hexdigest()
    t1 = time.perf_counter()
    emb = embed(ImageFiles(root, rel), np.arange(len(pool)), opts.embedder, key, opts.cache_dir, 0,
                **opts.embedder_options)
    say(f"embedded {len(pool)} image(s) and {len(served)} of the target folder {tscan.root} with {emb.embedder} "
        f"in {time.perf_counter() - t1:.1f} s ({'from cache' if emb.from_cache else 'computed'})")
    return emb.features[: len(pool)], emb.features[len(pool):], emb.embedder


def pick_folder(req: SelectionRequest, opts: FolderPick, say: Say, ranking: Callable | None = None) -> Path:
    """Scan, read the inputs, embed when needed, pick, and write the hand-off; returns the
    output folder. ``ranking(scan, is_labeled, candidates) → (Selection, embedder or None)``
    replaces the inputs and the pick (a task's own ranking)."""
    from .api import pick
    from .folder import scan_folder
    from .inputs import align, read_predictions
    from .sinks import Result, write_sinks

    t0 = time.perf_counter()
    scan = scan_folder(opts.images_dir, opts.cache_dir, progress=not opts.quiet, exclude=opts.excluded, say=say,
                       follow_links=opts.follow_links)
    good = list(scan.good)
    say(f"{len(scan.found)} image file(s) under {scan.root}: {len(good)} readable, {len(scan.bad)} unreadable "
        f"(skipped, listed in unreadable.csv); checked in {time.perf_counter() - t0:.1f} s "
        f"({scan.n_cached} from the scan cache)")
    if not good:
        raise UserError(f"{scan.root}: no readable images", key="images_dir")
    labeled_ids, labels = labeled_in_scan(opts.labeled, scan, say)
    is_labeled = np.isin(np.array(good), np.array(labeled_ids, dtype=str))
    dark, bright = brightness_filter(opts, scan, is_labeled, say)
    cand = ~is_labeled & ~dark & ~bright
    count(req, len(good), int(is_labeled.sum()), int(cand.sum()))  # before any embedding is computed

    need_rows = np.flatnonzero(cand)
    what = f"--predictions {opts.predictions}"
    preds = sel = embedder = None
    t2 = time.perf_counter()
    if ranking is not None:
        sel, embedder = ranking(scan, is_labeled, cand)
    elif opts.predictions:
        p_ids, p = read_predictions(opts.predictions, scan.found)
        preds = align(p_ids, np.asarray(p, np.float64), good, need_rows, what)
    if sel is None:
        target = None
        if opts.target_folder is None:
            features, embedder = _features(req, opts, scan, preds, say)
        else:
            features, target, embedder = _with_target(opts, scan, say)
        sel = pick(req, good, features, labeled=is_labeled, candidates=cand, probs=preds,
                   labels=None if labels is None else dict(zip(labeled_ids, labels)),  # id → its own label
                   target=target)
    say(f"picked {len(sel)} of {int(cand.sum())} candidate(s) with {sel.strategy} in {time.perf_counter() - t2:.2f} s"
        + (" (stopped by --min-distance)" if sel.stopped == "min_distance" else ""))

    result = Result(sel, scan, embedder, n_requested=int(req.n), n_candidates=int(cand.sum()),
                    n_labeled=int(is_labeled.sum()), n_dark=int((dark & ~is_labeled).sum()),
                    n_bright=int((bright & ~is_labeled).sum()), labeled_file=opts.labeled,
                    predictions=opts.predictions, label_studio_prefix=opts.label_studio_prefix,
                    label_studio_root=opts.label_studio_document_root, copy_to=opts.copy_to, link=opts.link)
    out = opts.out.expanduser()
    prepared = write_sinks(result, out)
    where = (f"; {'linked' if opts.link else 'copied'} {len(prepared['copy'])} file(s) to {opts.copy_to}"
             if opts.copy_to else "")
    say(f"wrote {out}/selection.csv, selection.yaml, mosaic.png, label_studio.json{where}")
    return out
