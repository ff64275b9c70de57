"""What leaves a labeling project: the model file, the labels, a selection's hand-off (CSV, Label Studio JSON, an
ImageFolder tree), each written under a temporary name and renamed, never over an existing file."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

from ..errors import UserError
from .checks import user_path
from .store import CURRENT_LABEL, EXPORTS, ProjectStore, now_utc

__all__ = ["ExportsMixin"]


class ExportsMixin(ProjectStore):
    """:meth:`export_model`, :meth:`export_labels`, :meth:`exports`, :meth:`export_file`,
    :meth:`selection_result`. Uses the items and queries rooms (images, selections) and the
    training room (the current features, :meth:`needs_fit`)."""

    def _record_export(self, kind: str, path: Path) -> dict[str, Any]:
        with self._tx() as con:
            name = path.name
            con.execute("INSERT OR REPLACE INTO exports(name, kind, path, created) VALUES(?,?,?,?)",
                        (name, kind, str(path), now_utc()))
        return {"name": name, "kind": kind, "path": str(path)}

    def images_root(self, keys: list[str] | None = None) -> Path:
        """The folder that holds every image of the project (their common parent; ``/`` if none):
        what hand-off URLs, captions and copies are relative to. ``keys``: the items, if read."""
        keys = self.items if keys is None else keys
        return Path(os.path.commonpath([os.path.dirname(k) for k in keys])) if keys else Path("/")

    def selection_result(self, sel, n_requested: int | None = None, **sink_options: Any):
        """Selection ``sel`` (a :class:`NamedSelection` or its name) as the hand-off a folder
        selection writes (:func:`al_bench.picking.sinks.write_sinks`: selection.csv,
        selection.yaml, mosaic.png, label_studio.json, copies). Ids stay the images' absolute
        paths; Label Studio URLs, captions and copies use them relative to the folder that holds
        every image of the project. ``sink_options``: ``label_studio_prefix``,
        ``label_studio_root``, ``copy_to``, ``link``."""
        import numpy as np

        from ..picking.api import Selection
        from ..picking.sinks import Result

        if isinstance(sel, str):
            sel = self.selection(sel)
        keys = self.items
        root = self.images_root(keys)
        scores = np.asarray(sel.scores, np.float64)
        picked = Selection(tuple(sel.ids), scores, sel.strategy, dict(sel.params), np.arange(len(sel.ids)),
                           np.ones(len(sel.ids), bool), predicted=self._predicted_by(sel))
        settings = self.settings
        source = {"project": str(self.folder), "selection": sel.name, "subset": sel.subset, "images": len(keys),
                  "labeled": sel.n_labeled, "model_round": sel.model_round,
                  "embedder": settings.get("embedder_resolved") or settings.get("embedder")}
        return Result(picked, None, source["embedder"], n_requested=int(n_requested or len(sel.ids)),
                      n_candidates=len(keys) - sel.n_labeled, n_labeled=sel.n_labeled, n_dark=0, n_bright=0,
                      source=source, root_dir=root, **sink_options)

    def _predicted_by(self, sel) -> tuple | None:
        """(class, probability) per pick from the model round that made selection ``sel``, when it
        had one and was fitted on the features the project has now; else None."""
        from .model_file import read_model_bytes

        if sel.model_round is None or not sel.ids:
            return None
        f = self._feature_table()
        with self._read() as con:
            row = con.execute("SELECT blob, features FROM models WHERE round=?", (sel.model_round,)).fetchone()
        if row is None or row[1] != f.checksum:
            return None
        m = read_model_bytes(bytes(row[0]))
        row_of = {k: r for r, k in enumerate(f.keys)}
        if any(k not in row_of for k in sel.ids):
            return None
        probs = m.predict_proba(f.x[[row_of[k] for k in sel.ids]])
        return tuple((str(m.classes[k]), float(probs[i, k])) for i, k in enumerate(probs.argmax(1)))

    def exports(self) -> list[dict[str, Any]]:
        with self._read() as con:
            return [{"name": n, "kind": k, "path": p, "created": c} for n, k, p, c in
                    con.execute("SELECT name, kind, path, created FROM exports ORDER BY seq")]

    def export_file(self, name: str) -> Path:
        """The file of export ``name`` (only files this project exported under exports/)."""
        with self._read() as con:
            row = con.execute("SELECT path FROM exports WHERE name=?", (name,)).fetchone()
        if row is None:
            raise KeyError(name)
        path = Path(row[0])
        if path.parent != self.folder / EXPORTS or not path.is_file() or path.is_symlink():
            raise KeyError(name)
        return path

    def _stamp(self) -> str:
        return dt.datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]

    def export_model(self, path: str | Path | None = None) -> dict[str, Any]:
        """Write the current model file (format: :mod:`al_bench.labeling.model_file`) to ``path``
        (default ``exports/model-<time>.pt``); an existing file is not overwritten."""
        from ..runfiles import atomic_write

        dest = None if path is None else user_path(path, "model file")
        with self._read() as con:
            row = con.execute("SELECT blob, features, round FROM models ORDER BY round DESC LIMIT 1").fetchone()
        if row is None:
            raise UserError("no model yet: label images of at least 2 classes and retrain")
        if row[1] != self._feature_table().checksum:
            raise UserError("the model was fitted on other features (images were added or changed since): retrain first")
        if self.needs_fit():
            raise UserError(f"labels changed since the model of round {row[2]} was fitted: retrain first, so the "
                            "file holds a model of the labels you have")
        dest = dest if dest is not None else self.folder / EXPORTS / f"model-{self._stamp()}.pt"
        _refuse_existing(dest)
        atomic_write(dest, lambda fh: fh.write(bytes(row[0])))
        out = self._record_export("model", dest) if dest.parent == self.folder / EXPORTS else {"path": str(dest)}
        return {**out, "round": row[2]}

    def export_labels(self, format: str = "csv", dest: str | Path | None = None, mode: str = "copy") -> dict[str, Any]:
        """The labeled images as ``csv`` (path, name, label, labeled_at), ``label_studio`` (JSON
        tasks with their choice annotations) or ``imagefolder`` (``dest/<label>/<file>``, links
        or copies; ``dest`` must not exist — it is built under a temporary name and renamed).
        A label given before its image's file changed is not exported (it is not the label of
        the image there now)."""
        import pandas as pd

        from ..runfiles import atomic_write_text, csv_text

        dest = None if not dest else user_path(dest, "destination")
        with self._read() as con:
            rows = con.execute(f"SELECT i.key, i.name, l.label, l.at FROM labels l JOIN items i ON i.id = l.item "
                               f"WHERE {CURRENT_LABEL} ORDER BY i.id").fetchall()
        if not rows:
            raise UserError("no labeled images to export")
        if format == "csv":
            df = pd.DataFrame(rows, columns=["path", "name", "label", "labeled_at"])
            target = dest if dest else self.folder / EXPORTS / f"labels-{self._stamp()}.csv"
            _refuse_existing(target)
            atomic_write_text(target, csv_text(df))
        elif format == "label_studio":
            from urllib.parse import quote

            tasks = [{"data": {"image": "/data/local-files/?d=" + quote(key.lstrip("/")), "al_bench_path": key},
                      "annotations": [{"result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                                   "value": {"choices": [label]}}]}]}
                     for key, _, label, _ in rows]
            target = dest if dest else self.folder / EXPORTS / f"labels-{self._stamp()}.json"
            _refuse_existing(target)
            atomic_write_text(target, json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
        elif format == "imagefolder":
            if dest is None:
                raise UserError("give a destination folder (it must not exist yet)", key="imagefolder export")
            if mode not in ("copy", "link"):
                raise UserError(f"mode {mode!r}: use copy or link", key="imagefolder export")
            target = dest
            if not target.is_absolute():
                raise UserError("give an absolute path", key=f"destination {target}")
            _refuse_existing(target)
            _write_imagefolder(target, [(k, lab) for k, _, lab, _ in rows], mode)
            return {"name": target.name, "kind": "imagefolder", "path": str(target), "n": len(rows)}
        else:
            raise UserError(f"format {format!r}: use csv, imagefolder or label_studio")
        out = self._record_export(f"labels-{format}", target) if target.parent == self.folder / EXPORTS \
            else {"name": target.name, "kind": f"labels-{format}", "path": str(target)}
        return {**out, "n": len(rows)}


def _refuse_existing(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise UserError("exists already; nothing was overwritten (choose another name or folder)", key=str(path))


def _write_imagefolder(target: Path, rows: list[tuple[str, str]], mode: str) -> None:
    """``target/<label>/<file name>`` for each (path, label); built in a sibling temporary folder
    and renamed into place, so a killed export leaves no half-filled destination."""
    import shutil

    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create it ({exc.strerror or exc})", key=str(parent)) from None
    tmp = parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        used: set[tuple[str, str]] = set()
        for key, label in rows:
            src = Path(key)
            stem, suffix = src.stem, src.suffix
            fname, k = src.name, 1
            while (label, fname) in used:  # the same file name from two folders
                fname, k = f"{stem}-{k}{suffix}", k + 1
            used.add((label, fname))
            (tmp / label).mkdir(exist_ok=True)
            if mode == "link":
                os.symlink(src, tmp / label / fname)
            else:
                shutil.copy2(src, tmp / label / fname)
        os.rename(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"export failed, nothing written ({exc.strerror or exc})", key=str(target)) from None
