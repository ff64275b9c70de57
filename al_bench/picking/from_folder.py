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

__all__ = ["FolderPick", "pick_folder", "pick_features", "labeled_in_scan", "brightness_filter"]

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
    features: Path | None = None  # the caller's own embeddings (.npy, .npz, .parquet) instead of embedding
    feature_ids: Path | None = None  # the ids of an .npy's rows (default: the folder's sorted order)
    features_column: str | None = None  # a Parquet file's vector column

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
    given = None
    if opts.features is not None:  # the caller's vectors, in the file's row order
        given = _given_features(opts, scan, say)
        ids = given.ids
        readable = np.isin(np.array(ids, dtype=str), np.array(good, dtype=str))
    else:
        ids, readable = good, np.ones(len(good), bool)
    is_labeled = np.isin(np.array(ids, dtype=str), np.array(labeled_ids, dtype=str))
    dark, bright = brightness_filter(opts, scan, is_labeled[readable] if given is not None else is_labeled, say)
    if given is not None:  # the filter's masks are over the readable images, in the folder's order
        dark, bright = _to_rows(dark, good, ids), _to_rows(bright, good, ids)
    cand = readable & ~is_labeled & ~dark & ~bright
    count(req, len(good), int(is_labeled.sum()), int(cand.sum()))  # before any embedding is computed

    need_rows = np.flatnonzero(cand)
    what = f"--predictions {opts.predictions}"
    preds = sel = embedder = None
    t2 = time.perf_counter()
    if ranking is not None:
        sel, embedder = ranking(scan, is_labeled, cand)
    elif opts.predictions:
        p_ids, p = read_predictions(opts.predictions, scan.found)
        preds = align(p_ids, np.asarray(p, np.float64), ids, need_rows, what)
    if sel is None:
        target = None
        if given is not None:
            features, embedder = given.vectors, f"given: {given.path}"
        elif opts.target_folder is None:
            features, embedder = _features(req, opts, scan, preds, say)
        else:
            features, target, embedder = _with_target(opts, scan, say)
        sel = pick(req, ids, features, labeled=is_labeled, candidates=cand, probs=preds,
                   labels=None if labels is None else dict(zip(labeled_ids, labels)),  # id → its own label
                   target=target)
    say(f"picked {len(sel)} of {int(cand.sum())} candidate(s) with {sel.strategy} in {time.perf_counter() - t2:.2f} s"
        + (" (stopped by --min-distance)" if sel.stopped == "min_distance" else ""))

    result = Result(sel, scan, embedder, n_requested=int(req.n), n_candidates=int(cand.sum()),
                    n_labeled=int(is_labeled.sum()), n_dark=int((dark & ~is_labeled).sum()),
                    n_bright=int((bright & ~is_labeled).sum()), labeled_file=opts.labeled,
                    predictions=opts.predictions, label_studio_prefix=opts.label_studio_prefix,
                    label_studio_root=opts.label_studio_document_root, copy_to=opts.copy_to, link=opts.link,
                    features=None if given is None else given.source)
    out = opts.out.expanduser()
    if given is not None:
        given.check_unchanged()
    prepared = write_sinks(result, out)
    where = (f"; {'linked' if opts.link else 'copied'} {len(prepared['copy'])} file(s) to {opts.copy_to}"
             if opts.copy_to else "")
    say(f"wrote {out}/selection.csv, selection.yaml, mosaic.png, label_studio.json{where}")
    return out


def _given_features(opts: FolderPick, scan, say: Say):
    """The ``features`` file, its ids checked against the folder's image files (an .npy without
    ids: rows in the folder's sorted order, as ``--list-ids`` prints it)."""
    from .features_file import match_ids, read_features

    t0 = time.perf_counter()
    ids = opts.feature_ids if opts.feature_ids is not None else \
        (list(scan.found) if opts.features.suffix.lower() == ".npy" else None)
    ff = read_features(opts.features, ids, column=opts.features_column)
    match_ids(ff.ids, scan.good, scan.found, f"--features {opts.features}", scan.root)
    say(f"read {len(ff.ids)} vector(s) of {ff.vectors.shape[1]} {ff.vectors.dtype} values from {ff.path} "
        f"({'memory-mapped' if ff.mapped else 'read into memory'}) in {time.perf_counter() - t0:.1f} s")
    return ff


def _to_rows(mask: np.ndarray, good, ids: list[str]) -> np.ndarray:
    """A mask over ``good`` (the folder's readable images) as a mask over ``ids``."""
    at = {s: i for i, s in enumerate(good)}
    out = np.zeros(len(ids), bool)
    for r, s in enumerate(ids):
        i = at.get(s)
        if i is not None:
            out[r] = mask[i]
    return out


def pick_features(req: SelectionRequest, opts: FolderPick, say: Say) -> Path:
    """A selection on a features file alone (no images folder): ids and vectors from the file,
    labeled ids and predictions matched to its ids; the hand-off without the mosaic (and without
    Label Studio tasks unless ``label_studio_prefix`` says where the images are served)."""
    from .api import pick
    from .features_file import read_features
    from .inputs import align, read_labeled, read_predictions
    from .sinks import Result, write_sinks

    t0 = time.perf_counter()
    ff = read_features(opts.features, opts.feature_ids, column=opts.features_column)
    say(f"read {len(ff.ids)} vector(s) of {ff.vectors.shape[1]} {ff.vectors.dtype} values from {ff.path} "
        f"({'memory-mapped' if ff.mapped else 'read into memory'}) in {time.perf_counter() - t0:.1f} s")
    labeled_ids, labels = read_labeled(opts.labeled) if opts.labeled else ([], None)
    known = set(ff.ids)
    strangers = [s for s in labeled_ids if s not in known]
    if strangers:
        raise UserError(f"{{labeled}} {opts.labeled}: {len(strangers)} id(s) have no vector in {{features}} "
                        f"{opts.features} (first: {', '.join(strangers[:5])}); nothing was written",
                        refs={"labeled": "labeled", "features": "features"})
    is_labeled = np.isin(np.array(ff.ids, dtype=str), np.array(labeled_ids, dtype=str))
    cand = ~is_labeled
    count(req, len(ff.ids), int(is_labeled.sum()), int(cand.sum()))
    preds = None
    if opts.predictions:
        p_ids, p = read_predictions(opts.predictions, ff.ids)
        preds = align(p_ids, np.asarray(p, np.float64), ff.ids, np.flatnonzero(cand), f"--predictions {opts.predictions}")
    t2 = time.perf_counter()
    sel = pick(req, ff.ids, ff.vectors, labeled=is_labeled, candidates=cand, probs=preds,
               labels=None if labels is None else dict(zip(labeled_ids, labels)))
    say(f"picked {len(sel)} of {int(cand.sum())} candidate(s) with {sel.strategy} in {time.perf_counter() - t2:.2f} s")
    source = {**ff.source, "labeled": int(is_labeled.sum()), "candidates": int(cand.sum()),
              "labeled_file": str(opts.labeled) if opts.labeled else None,
              "predictions": str(opts.predictions) if opts.predictions else None}
    result = Result(sel, None, f"given: {ff.path}", n_requested=int(req.n), n_candidates=int(cand.sum()),
                    n_labeled=int(is_labeled.sum()), n_dark=0, n_bright=0, labeled_file=opts.labeled,
                    predictions=opts.predictions, label_studio_prefix=opts.label_studio_prefix, source=source)
    out = opts.out.expanduser()
    ff.check_unchanged()
    write_sinks(result, out)
    say(f"wrote {out}/selection.csv, selection.yaml" + (", label_studio.json" if opts.label_studio_prefix else "")
        + " (no images folder: no mosaic)")
    return out
