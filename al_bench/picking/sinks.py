"""Sinks: where a selection goes — the files of the hand-off, and the picked images themselves.

A sink is a function ``(result, folder, prepared) → None`` registered in :data:`SINKS` with:

- ``order``: when it runs among the sinks (lower first), so the sequence is stable;
- ``applies``: ``result → bool``, whether it runs for this result (default: always);
- ``output``: the file it writes in ``folder``, or None when it writes elsewhere; a sink that
  does not apply removes its file left by an earlier call, so the folder never mixes calls;
- ``prepare``: ``result → prepared`` (default none), run before anything is written, so a
  problem it finds (a file in the way) leaves nothing behind.

:func:`write_sinks` runs them all into a temporary folder inside ``--out`` and moves the files
into place only when every sink succeeded. A new hand-off format is a new function here.
Every folder written to (``--out``, ``--copy-to``) gets the marker file
:data:`~al_bench.data.images.OUTPUT_MARKER`, so no later scan reads it as images. CSV files are
written through :func:`al_bench.runfiles.csv_text`, which quotes ids holding ``\r``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data.images import OUTPUT_MARKER
from ..errors import UserError
from ..registry import Entry, Registry
from ..runfiles import csv_text
from .api import Selection, score_meaning
from .folder import FolderScan

__all__ = ["SINKS", "Result", "register", "ordered", "write_sinks", "write_mosaic", "label_studio_tasks",
           "copy_plan", "local_files_prefix", "mark_output", "TILE", "CAPTION", "MOSAIC_MAX"]

TILE, CAPTION, MOSAIC_MAX = 128, 16, 256  # mosaic: thumbnail px, caption px under it, at most this many picks

SINKS: Registry = Registry("sink", required=("order", "output"),
                           defaults={"applies": None, "prepare": None})


def register(name: str, *, order: int, output: str | None, applies: Callable[["Result"], bool] | None = None,
             prepare: Callable[["Result"], Any] | None = None):
    """Register sink ``name`` (see the module docstring)."""
    return SINKS.register(name, order=order, output=output, applies=applies, prepare=prepare)


def ordered() -> list[Entry]:
    """Every sink in the order it runs: by ``order``, then by name."""
    return sorted(SINKS.entries(), key=lambda e: (e.order, e.name))


@dataclass(frozen=True)
class Result:
    """A selection with what it came from: everything a sink writes. From a folder, ``scan``
    says what it came from; from a labeling project (``scan`` None), ``source`` does, and ``root``
    is the folder the ids (absolute paths) are written relative to for Label Studio, the
    mosaic's captions and copies."""

    selection: Selection
    scan: FolderScan | None
    embedder: str | None  # the embedder that ran, None when none was needed
    n_requested: int
    n_candidates: int
    n_labeled: int
    n_dark: int  # unlabeled images dropped by the brightness filter
    n_bright: int
    labeled_file: Path | None = None
    predictions: Path | None = None
    label_studio_prefix: str | None = None  # default: Label Studio local files under the folder
    label_studio_root: Path | None = None  # Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (default /)
    copy_to: Path | None = None
    link: bool = False  # with copy_to: symlink instead of copying
    source: dict[str, Any] | None = None  # selection.yaml's source block when not from a folder scan
    root_dir: Path | None = None  # with source: the folder the ids are made relative to (None: no images)
    features: dict[str, Any] | None = None  # the given features file's record, when the vectors came from one

    @property
    def has_images(self) -> bool:
        """Whether the picks are image files here (a selection on a features file alone has none)."""
        return self.scan is not None or self.root_dir is not None

    @property
    def ids(self) -> list[str]:
        return list(self.selection.ids)

    @property
    def root(self) -> Path:
        return self.scan.root if self.scan is not None else Path(self.root_dir)

    @property
    def paths(self) -> list[str]:
        """The picks' paths relative to :attr:`root` (a folder's ids are so already; without
        images, the ids as given)."""
        if self.scan is not None or self.root_dir is None:
            return self.ids
        return [Path(os.path.relpath(i, self.root)).as_posix() for i in self.ids]


# -- helpers the sinks use; also public for notebooks ------------------------------------------
MARKER_TEXT = ("Written by al-bench-select. A folder holding this file is left out of every scan of "
               "al-bench-select and dataset=folder, so their outputs are never read as images.\n")


def mark_output(folder: Path) -> None:
    """Create ``folder`` if needed and put the output marker in it (kept if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if not marker.exists():
        marker.write_text(MARKER_TEXT, encoding="utf-8")


def _caption(rel: str) -> str:
    """An id shortened for the mosaic, control characters (\\r, \\n …) drawn as '?'."""
    label = "".join(c if c.isprintable() else "?" for c in rel)
    return label if len(label) <= 20 else "..." + label[-17:]


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
        draw.text((x0 + 2, y0 + TILE + 2), _caption(rel), fill="black")  # "...": any Pillow's default font draws it
    sheet.save(path, format="PNG")
    return rows, cols


def label_studio_tasks(ids: list[str], scores: np.ndarray, strategy: str, prefix: str,
                       paths: list[str] | None = None, predicted=None) -> list[dict]:
    """One Label Studio task per pick: ``data.image`` = prefix + its path (URL-quoted; default
    the id), plus id, rank and score. With ``predicted`` ((class, probability) per pick), also
    ``al_bench_prediction`` and ``al_bench_confidence`` as data fields (sortable in the task
    list) and a pre-annotation: ``predictions`` with the class as a choice of ``label`` on
    ``image`` (the names the project's label export uses) and the acquisition score as its
    ``score``, so Label Studio can order tasks by it."""
    from urllib.parse import quote

    tasks = []
    for k, (i, rel, s) in enumerate(zip(ids, paths if paths is not None else ids, scores)):
        score = None if not np.isfinite(s) else float(s)
        task = {"data": {"image": prefix + quote(rel), "al_bench_id": i, "al_bench_rank": k + 1,
                         "al_bench_score": score, "al_bench_strategy": strategy}}
        if predicted is not None:
            label, p = predicted[k]
            task["data"].update(al_bench_prediction=label, al_bench_confidence=round(p, 6))
            task["predictions"] = [{"model_version": f"al_bench {strategy}", "score": score,
                                    "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                                "value": {"choices": [label]}}]}]
        tasks.append(task)
    return tasks


def local_files_prefix(images_dir: Path, document_root: Path | None = None,
                       what: str = "--label-studio-document-root", given: Path | None = None,
                       folder: str = "--images-dir") -> str:
    """The URL prefix of Label Studio's local-files server for images under ``images_dir`` (a
    resolved path; ``given``: the path as the user wrote it, which errors name):
    ``/data/local-files/?d=`` + the folder's path relative to ``document_root`` (Label Studio's
    LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; default ``/``, the whole absolute path); ``folder``
    names the images folder in errors. The folder
    must lie strictly below the root: Label Studio refuses a Local files storage equal to its
    document root ("add a subdirectory"), so such URLs could never be served."""
    from urllib.parse import quote

    images_dir = Path(images_dir)
    named = str(images_dir)
    if given is not None and Path(given) != images_dir:
        named = f"{given} (a link to {images_dir})"
    if document_root is None:
        rel = str(images_dir).lstrip("/")
    else:
        root = Path(document_root).expanduser().resolve()
        try:
            rel = images_dir.relative_to(root).as_posix()
        except ValueError:
            raise UserError(f"{folder} {named} is not under it; Label Studio serves local files only "
                            "from below its document root", key=f"{what} {document_root}") from None
        rel = "" if rel == "." else rel
    if not rel:
        raise UserError(f"{folder} {named} is the document root itself; Label Studio refuses a Local files "
                        "storage equal to its document root (it asks for a subdirectory): give a root above the "
                        "images folder", key=f"{what} {document_root if document_root is not None else '/'}")
    return "/data/local-files/?d=" + quote(rel) + "/"


def copy_plan(copy_to: Path, root: Path, ids: list[str], what: str = "--copy-to") -> list[tuple[Path, Path]]:
    """(source, destination) pairs still to copy; fails before copying anything if a different
    file is in the way (an identical one is skipped)."""
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
        raise UserError(f"{len(clash)} different file(s) already exist there (first: {clash[0]}); "
                        "choose an empty folder", key=what)
    return plan


# -- the sinks ----------------------------------------------------------------------------------
@register("selection.csv", order=10, output="selection.csv")
def selection_csv(r: Result, folder: Path, prepared: None) -> None:
    """rank, id, score, strategy: one row per pick, in pick order."""
    df = r.selection.frame()[["rank", "id", "score", "strategy"]]
    (folder / "selection.csv").write_bytes(csv_text(df).encode("utf-8"))


@register("unreadable.csv", order=20, output="unreadable.csv", applies=lambda r: r.scan is not None)
def unreadable_csv(r: Result, folder: Path, prepared: None) -> None:
    """id, reason: the image files left out of the pool — those that could not be decoded, then
    those the scan did not take (links leading outside the folder, names not valid UTF-8 written
    with \\xNN escapes, broken links)."""
    import pandas as pd

    df = pd.DataFrame(list(r.scan.bad) + list(r.scan.left_out), columns=["id", "reason"])
    (folder / "unreadable.csv").write_bytes(csv_text(df).encode("utf-8"))


@register("selection.yaml", order=30, output="selection.yaml")
def selection_yaml(r: Result, folder: Path, prepared: None) -> None:
    """The hand-off: strategy, parameters, what the scores mean, source counts, the picked ids."""
    import yaml

    from .. import __version__

    sel, scan = r.selection, r.scan
    source = r.source if scan is None else {
        "images_dir": str(scan.root), "files_found": len(scan.found), "readable": len(scan.good),
        "unreadable": len(scan.bad), "left_out": len(scan.left_out), "labeled": r.n_labeled,
        "dropped_too_dark": r.n_dark,
        "dropped_too_bright": r.n_bright, "candidates": r.n_candidates, "embedder": r.embedder,
        "labeled_file": str(r.labeled_file) if r.labeled_file else None,
        "predictions": str(r.predictions) if r.predictions else None}
    if scan is not None and r.features is not None:
        source["features"] = r.features
    handoff = {
        "al_bench_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "strategy": sel.strategy,
        "params": {k: (v.item() if hasattr(v, "item") else v) for k, v in sel.params.items()},
        "score": sel.meaning or score_meaning(sel.strategy),
        "source": source,
        "n_requested": int(r.n_requested),
        "n_selected": len(r.ids),
        "stopped_by": sel.stopped,
        "ids": r.ids,
    }
    (folder / "selection.yaml").write_text(yaml.safe_dump(handoff, sort_keys=False, allow_unicode=True), encoding="utf-8")


@register("label_studio.json", order=40, output="label_studio.json",
          applies=lambda r: r.has_images or r.label_studio_prefix is not None)
def label_studio_json(r: Result, folder: Path, prepared: None) -> None:
    """A Label Studio task import: one task per pick (default prefix: its local-files URLs)."""
    prefix = r.label_studio_prefix
    if prefix is None:
        prefix = local_files_prefix(r.root, r.label_studio_root)
    tasks = label_studio_tasks(r.ids, r.selection.scores, r.selection.strategy, prefix, r.paths, r.selection.predicted)
    (folder / "label_studio.json").write_text(json.dumps(tasks, indent=1) + "\n", encoding="utf-8")


@register("mosaic.png", order=50, output="mosaic.png", applies=lambda r: len(r.ids) > 0 and r.has_images)
def mosaic_png(r: Result, folder: Path, prepared: None) -> None:
    """A preview grid of the picks with their ids."""
    write_mosaic(folder / "mosaic.png", r.root, r.paths)


@register("copy", order=60, output=None, applies=lambda r: r.copy_to is not None and r.has_images,
          prepare=lambda r: copy_plan(r.copy_to.expanduser(), r.root, r.paths))
def copy_files(r: Result, folder: Path, prepared: list[tuple[Path, Path]]) -> None:
    """The picked files copied (or linked) to ``copy_to`` under their relative paths; each lands
    whole (temporary name, then rename) or not at all. The folder is marked as an output."""
    try:
        mark_output(r.copy_to.expanduser())
    except OSError as exc:
        raise UserError(f"cannot write there ({exc})", key="--copy-to") from None
    for src, dst in prepared:
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            part = dst.with_name(f".{dst.name}.partial")
            part.unlink(missing_ok=True)
            if r.link:
                part.symlink_to(src)
            else:
                shutil.copy2(src, part)
            os.replace(part, dst)
        except OSError as exc:
            raise UserError(f"cannot write {dst} ({exc}); files copied so far are complete, a rerun skips them",
                            key="--copy-to") from None


def write_sinks(result: Result, out: Path) -> dict[str, Any]:
    """Run every sink that applies; files land in ``out`` only when all succeeded.
    Returns what each sink's ``prepare`` gave, by name."""
    out = Path(out).expanduser()
    sinks = [(e, e.applies is None or e.applies(result)) for e in ordered()]
    prepared = {e.name: e.prepare(result) for e, on in sinks if on and e.prepare is not None}
    mark_output(out)  # before anything lands there: no scan ever reads this folder
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".partial-"))
    try:
        for e, on in sinks:
            if on:
                e.obj(result, tmp, prepared.get(e.name))
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
        for e, on in sinks:
            if not on and e.output:  # not written this time: drop an earlier call's file
                (out / e.output).unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return prepared
