"""A labeling project: the images to label, their labels, every query that picked them, the
models fitted on them and named checkpoints — one SQLite database in the project folder.

The browser app (``al-bench-label``), ``al-bench-select --project`` and notebooks share it::

    p = LabelingProject.open("my_project")
    p.setup("weather", ["clear", "rain", "snow"], strategy="least_confidence", batch_size=20)
    p.add_folder("~/images")
    sel = p.query("margin", 20)                 # a named selection: strategy, parameters, time, ids
    p.add_labels({sel.ids[0]: "rain", ...})     # committed before it returns
    p.fit()                                     # linear head + temperature + cross-validated accuracy
    p.predict(p.unlabeled_set[:5])
    p.checkpoint("after batch 3"); p.restore("after batch 3")
    p.export_model("model.pt"); p.export_labels("csv")

Items are named by their absolute path (``key``) and carry an integer id (the app's URLs use
it, never a path). Queries run :func:`al_bench.select`, the code path of the simulation, on the
project's embedding; with a fitted model, that model (calibrated) serves the strategy.

:class:`LabelingProject` is a façade over rooms, one module each (all in ``al_bench.labeling``):

- ``store``: the database — schema, connections, transactions, settings and version in ``meta``
  (and the durability promise);
- ``checks``: names, labels, paths and seeds as a person typed them;
- ``sources``: adding images from a folder, a CSV or uploads; sources and their problems;
- ``items``: the images — lookups, views, subsets, and images that changed on disk;
- ``labels``: labeling, relabeling, undo, the labeled and unlabeled sets;
- ``training``: features, fitting with cross-validation and temperature, model rounds, import;
- ``queries``: queries, the app's next batch, the selections on record;
- ``snapshots``: checkpoints and restore;
- ``exports``: the model file and the labels.

This module opens the project, sets it up, and holds what spans rooms; every name it had
before the split is importable from here still.

The rooms are mixins over one :class:`~al_bench.labeling.store.ProjectStore` rather than
objects the façade holds: they share one identity (the folder, its database, the in-memory
embedding and model cache, per-thread flags) and call each other in both directions (a query
checks files, embeds, reads labels and the model; labeling checks files and tags the open
batch; adding a CSV writes labels), so separate objects would need back-references to one
another and a forwarding method in the façade for each of some 75 methods. Each room's class
docstring names what it uses from the others.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError

# ``X as X``: names this module held before the split into rooms, importable from here still
from .checks import MAX_NAME as MAX_NAME
from .checks import check_name as check_name
from .checks import check_seed, parse_labels, user_path
from .checks import safe_file_name as safe_file_name
from .exports import ExportsMixin
from .items import HASH_CHUNK as HASH_CHUNK
from .items import ItemsMixin
from .labels import LabelsMixin
from .queries import CHANGED_STRATEGY as CHANGED_STRATEGY
from .queries import DEFAULT_AUDIT_FRACTION, DEFAULT_STRATEGY, INITIAL_STRATEGY, NamedSelection, QueriesMixin
from .snapshots import RESTORED_META as RESTORED_META
from .snapshots import STATE_TABLES as STATE_TABLES
from .snapshots import SnapshotsMixin
from .sources import CSV_LABEL_COLUMNS as CSV_LABEL_COLUMNS
from .sources import CSV_PATH_COLUMNS as CSV_PATH_COLUMNS
from .sources import MAX_CSV_BYTES as MAX_CSV_BYTES
from .sources import AddReport, SourcesMixin
from .store import CACHE as CACHE
from .store import CHECKPOINTS as CHECKPOINTS
from .store import CURRENT_LABEL as CURRENT_LABEL
from .store import DB_FILE
from .store import EXPORTS as EXPORTS
from .store import ITEM_COLUMNS as ITEM_COLUMNS
from .store import SCHEMA_VERSION as SCHEMA_VERSION
from .store import STALE_TMP_SECONDS as STALE_TMP_SECONDS
from .store import UPLOADS as UPLOADS
from .store import Progress as Progress
from .training import CV_FOLDS as CV_FOLDS
from .training import FILE, FILE_EMBEDDER, FitReport, TrainingMixin
from .training import MIN_CV_LABELS as MIN_CV_LABELS
from .training import TEMPERATURE_RANGE as TEMPERATURE_RANGE

__all__ = ["LabelingProject", "NamedSelection", "FitReport", "AddReport", "DB_FILE", "DEFAULT_STRATEGY", "DEFAULT_AUDIT_FRACTION",
           "INITIAL_STRATEGY"]


class LabelingProject(SourcesMixin, ItemsMixin, LabelsMixin, TrainingMixin, QueriesMixin, SnapshotsMixin, ExportsMixin):
    """A labeling project in a folder (see the module docstring). Open with :meth:`open`."""

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path, create: bool = True) -> "LabelingProject":
        """Open the project in ``folder`` (created with an empty project when ``create``)."""
        folder = user_path(folder, "project folder").resolve()
        if not (folder / DB_FILE).exists():
            if not create:
                raise UserError(f"no labeling project there (no {DB_FILE})", key=str(folder))
            if folder.exists() and not folder.is_dir():
                raise UserError("is a file, not a folder", key=str(folder))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create it ({exc.strerror or exc})", key=str(folder)) from None
        if os.statvfs(folder).f_flag & os.ST_RDONLY or not os.access(folder, os.W_OK):
            raise UserError("is on a read-only file system or not writable; the project writes every label there "
                            "(copy it to a writable place)", key=str(folder))
        p = cls(folder)
        try:
            p._open_database()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                raise UserError("is on a read-only file system or not writable", key=str(folder)) from None
            raise UserError(f"is not a usable project database ({exc})", key=str(p.db_path)) from None
        p._anchor.execute("SELECT COUNT(*) FROM meta").fetchone()  # the anchor now holds the WAL open
        p._clean_temporaries()
        p.check_files()  # images replaced while the project was closed
        return p

    # -- settings ------------------------------------------------------------------------------
    def setup(self, name: str, labels: str | Sequence[str], strategy: str = DEFAULT_STRATEGY, batch_size: int = 20,
              embedder: str = "auto", seed: int = 0, initial_strategy: str = INITIAL_STRATEGY,
              embedder_options: Mapping[str, Any] | None = None,
              audit_fraction: float = DEFAULT_AUDIT_FRACTION) -> dict[str, Any]:
        """Name the project and its classes and choose how it picks; again later to change the
        strategy or batch size (classes may only be added, never renamed or removed, once labels
        use them; the embedder is fixed once features were computed). ``audit_fraction``: the
        share of each batch drawn uniformly from the unlabeled images for the accuracy estimate
        (:mod:`al_bench.labeling.estimate`; 0 for none)."""
        from ..embedders import EMBEDDERS
        from ..strategies import STRATEGIES

        name = check_name(name, "project name")
        classes = parse_labels(labels)
        if len(classes) < 2:
            raise UserError(f"give at least 2 labels (got {classes}); type them one per line or separated by commas",
                            key="labels")
        for s, what in ((strategy, "strategy"), (initial_strategy, "initial strategy")):
            if s not in STRATEGIES:
                raise UserError(f"unknown {what} {s!r}; choose one of {', '.join(sorted(STRATEGIES))}",
                                key=what)
        file_spec = self.features_file()
        if file_spec is not None:  # use_features: the project's own pipeline supplies the features
            if embedder not in ("auto", FILE):
                raise UserError(f"the project's features come from the file {file_spec['path']} "
                                f"({FILE_EMBEDDER}{file_spec['name']}); the embedder cannot change (start a new "
                                "project)", key="embedder")
            embedder, embedder_options = FILE, {}
        elif embedder not in EMBEDDERS:
            raise UserError(f"unknown embedder {embedder!r}; choose one of {', '.join(sorted(EMBEDDERS))}",
                            key="embedder")
        batch_size = int(batch_size)
        if not 1 <= batch_size <= 10_000:
            raise UserError(f"{batch_size}: give 1 to 10000", key="batch size")
        try:
            audit_fraction = float(audit_fraction)
        except (TypeError, ValueError):
            raise UserError(f"{audit_fraction!r}: give a share from 0 to 0.9", key="audit fraction") from None
        if not 0.0 <= audit_fraction <= 0.9:
            raise UserError(f"{audit_fraction}: give a share from 0 to 0.9", key="audit fraction")
        seed = check_seed(seed)
        with self._tx() as con:
            old = self._meta(con, "settings", {}) or {}
            used = [r[0] for r in con.execute("SELECT DISTINCT label FROM labels")]
            unknown = sorted(set(used) - set(classes))
            if unknown:
                raise UserError(f"the labeled images use {unknown}, which are not among the labels {classes}; "
                                "add them to the labels", key="labels")
            if old.get("classes") and con.execute("SELECT COUNT(*) FROM models").fetchone()[0]:
                if classes[: len(old["classes"])] != old["classes"]:
                    raise UserError(f"the project's labels are {old['classes']}; new labels may be added at the "
                                    "end, but existing ones cannot be renamed, removed or reordered", key="labels")
            emb_resolved = old.get("embedder_resolved")
            if old.get("embedder") and old["embedder"] != embedder and emb_resolved:
                raise UserError(f"the project's features come from {emb_resolved}; the embedder cannot change "
                                "(start a new project)", key="embedder")
            settings = {**old, "name": name, "classes": classes, "strategy": strategy, "batch_size": batch_size,
                        "embedder": embedder, "embedder_options": dict(embedder_options or old.get("embedder_options")
                                                                       or {}),
                        "seed": int(old.get("seed", seed)), "initial_strategy": initial_strategy,
                        "audit_fraction": audit_fraction}
            settings.setdefault("embedder_resolved", None)
            if file_spec is not None:
                settings.update(embedder_options={}, embedder_resolved=FILE_EMBEDDER + file_spec["name"])
            con.execute("INSERT OR REPLACE INTO meta VALUES('settings', ?)", (json.dumps(settings),))
        return settings

    # -- policies over several rooms -----------------------------------------------------------
    # What the app and al-bench-select --project decide from the state of several rooms at once.
    def refit_if_needed(self, progress: Progress | None = None) -> FitReport | None:
        """The refit policy before a pick, shared by the app's next batch and ``al-bench-select
        --project``: embed what is new, then fit a new model when the labels (spanning at least
        2 classes) or the features changed since the current one — except in the middle of a
        batch that already has a model (a restart, images added meanwhile), whose picks keep the
        model that made them. Returns the fit's report, or None when the model stands."""
        from .store import quiet

        progress = progress or quiet
        self.features(progress)
        if self.needs_fit() and (not self.batch_open() or self.model() is None):
            return self.fit(progress)
        return None
