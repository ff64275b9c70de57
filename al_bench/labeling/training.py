"""The model of a labeling project: the features of its images (one embedder per project,
cached), fitting the linear head with cross-validated accuracy and a fitted temperature, model
rounds, importing a model file, and predictions."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..heads import softmax
from ..stopping import cohen_kappa, stop_set
from .checks import check_name, check_seed, user_path
from .estimate import Z95, audit_estimate, cross_fit
from .stopping import forecast, suggestion
from .store import CACHE, Progress, ProjectStore, now_utc, quiet

__all__ = ["FILE", "FILE_EMBEDDER", "CV_FOLDS", "MIN_CV_LABELS", "TEMPERATURE_RANGE", "FitReport", "FeatureTable",
           "TrainingMixin"]

CV_FOLDS = 5
MIN_CV_LABELS = 10  # fewer labels: no accuracy estimate (folds of one or two images say nothing)
TEMPERATURE_RANGE = (0.05, 20.0)
FILE = "file"  # the settings' embedder of a project whose features come from a file (use_features)
FILE_EMBEDDER = FILE + ":"  # what it resolves to: this, then the pipeline's name


@dataclass(frozen=True)
class FitReport:
    round: int
    n_labeled: int
    temperature: float
    cv_accuracy: float | None
    cv_std: float | None
    folds: int
    fit_seconds: float
    source: str
    # the audit estimate of the model's accuracy on the unlabeled images (Estimate.as_dict)
    estimate: dict[str, Any] | None = None


@dataclass
class FeatureTable:
    """The embedding of every item, in memory: rows in item-id order."""

    fingerprint: str
    ids: np.ndarray  # item ids, row order
    x: np.ndarray
    embedder: str
    checksum: str
    keys: list[str] = field(default_factory=list)


class TrainingMixin(ProjectStore):
    """:meth:`features`, :meth:`embedder_identity`, :meth:`fit`, :meth:`needs_fit`,
    :meth:`import_model`, :meth:`model`, :meth:`model_info`, :meth:`rounds`, :meth:`predict`.
    Uses the items room's :meth:`check_files` and :meth:`item_ids`."""

    # -- features ------------------------------------------------------------------------------
    def features(self, progress: Progress = quiet) -> tuple[list[str], np.ndarray]:
        """(keys, features (N, d)) of every image, from the project's embedder (``auto`` is
        resolved on first use and kept: a project never mixes embedders). Cached in memory and
        on disk under ``cache/``. The files are checked first (:meth:`check_files`): a changed
        image gets the features of its bytes now."""
        self.check_files()
        f = self._feature_table(progress)
        return list(f.keys), f.x

    def _items_fingerprint(self, con) -> tuple[str, list[tuple[int, str, int, int]]]:
        """(hash of every item's key, size and mtime as added and content revision, the
        (id, key, size, mtime) rows); revision 0 adds nothing, so projects from before revisions
        keep their cached features."""
        rows = con.execute("SELECT id, key, size, mtime_ns, revision FROM items ORDER BY id").fetchall()
        h = hashlib.sha256()
        for _, key, size, mtime, rev in rows:
            tail = f"\0r{rev}" if rev else ""
            h.update(f"{key}\0{size}\0{mtime}{tail}\n".encode())
        return h.hexdigest(), [r[:4] for r in rows]

    def _feature_table(self, progress: Progress = quiet) -> FeatureTable:
        with self._features_lock:
            return self._compute_features(progress)

    def use_features(self, path: str | Path, root: str | Path | None = None, ids: str | Path | None = None,
                     column: str | None = None, name: str | None = None) -> dict[str, Any]:
        """Take the images' features from a file your own pipeline wrote (``.npy`` with an ids
        file, ``.npz`` or Parquet: :func:`al_bench.read_features`) instead of an embedder.

        The file's ids are the images' paths relative to ``root`` (absolute paths without it).
        Every image of the project, those added later too, needs a vector; vectors of other
        images are ignored. ``name`` names the pipeline (default: the file's name): a model file
        imports only into a project whose features carry the same name. The file is read again
        when it changes (size or modification time). Refused, with nothing changed, when the
        project's features already come from an embedder or another pipeline, or when the
        file does not give every image a vector."""
        from ..picking.features_file import FORMATS

        path = user_path(path, "features file").expanduser().absolute()
        if path.suffix.lower() not in FORMATS:
            raise UserError(f"use {', '.join(FORMATS)}", key=f"features file {path}")
        spec = {"path": str(path), "root": None if root is None else str(user_path(root, "features root").resolve()),
                "ids": None if ids is None else str(user_path(ids, "features ids file").absolute()),
                "column": None if column is None else str(column),
                "name": check_name(name if name is not None else path.name, "features name")}
        resolved = FILE_EMBEDDER + spec["name"]
        with self._features_lock:
            with self._read() as con:
                current = (self._meta(con, "settings", {}) or {}).get("embedder_resolved")
                fp, rows = self._items_fingerprint(con)
            if current not in (None, resolved):
                raise UserError(f"the project's features come from {current}; they cannot change (start a new "
                                "project)", key="features file")
            previous, self._features = self._features, None
            try:  # read and matched before anything is kept: a file that does not fit changes nothing
                if rows:
                    table = self._file_features(spec, fp, rows, quiet)
                else:  # no images yet: the file must still be readable
                    from ..picking.features_file import read_features

                    read_features(spec["path"], spec["ids"], column=spec["column"], what="features file",
                                  ids_what="features ids file")
                    table = None
            except BaseException:
                self._features = previous
                raise
            with self._tx() as con:
                con.execute("INSERT OR REPLACE INTO meta VALUES('features_file', ?)", (json.dumps(spec),))
                self._settings_name_file(con, resolved)
            self._features = table
        return spec

    def _settings_name_file(self, con, resolved: str) -> None:
        """Point the project's settings (when set up) at the features file ``resolved`` names."""
        cur = self._meta(con, "settings", {}) or {}
        if cur:
            cur.update(embedder=FILE, embedder_options={}, embedder_resolved=resolved)
            con.execute("INSERT OR REPLACE INTO meta VALUES('settings', ?)", (json.dumps(cur),))

    def features_file(self) -> dict[str, Any] | None:
        """What :meth:`use_features` set (path, root, ids, column, name), or None."""
        with self._read() as con:
            return self._meta(con, "features_file", None)

    def _items_state(self) -> tuple[str, list[tuple[int, str, int, int]]]:
        with self._read() as con:
            fp, rows = self._items_fingerprint(con)
        if not rows:
            raise UserError("the project has no images yet: add a folder, a CSV or uploads")
        return fp, rows

    def _file_features(self, spec: dict[str, Any], fp: str, rows: list, progress: Progress) -> FeatureTable:
        """The features of every item, read from the file ``spec`` names (:meth:`use_features`)."""
        from ..embedders.cache import checksum
        from ..picking.features_file import file_stamp, read_features

        what = "features file"
        stamped = [Path(spec["path"])] + ([Path(spec["ids"])] if spec.get("ids") else [])
        try:
            fp = f"{fp}:{file_stamp(*stamped)}"  # a changed file is read again
        except OSError as exc:
            raise UserError(f"cannot read it ({exc.strerror or exc})", key=f"{what} {spec['path']}") from None
        if self._features is not None and self._features.fingerprint == fp:
            return self._features
        progress(f"reading the features of {len(rows)} image(s) from {spec['path']}", None)
        f = read_features(spec["path"], spec.get("ids"), column=spec.get("column"), what=what,
                          ids_what="features ids file")
        index = {s: i for i, s in enumerate(f.ids)}
        root = None if spec.get("root") is None else Path(spec["root"])
        take, missing = [], []
        for _, key, _, _ in rows:
            if root is None:
                ident = key
            else:
                try:
                    ident = Path(key).relative_to(root).as_posix()
                except ValueError:
                    ident = None
            i = index.get(ident) if ident is not None else None
            (missing.append(key) if i is None else take.append(i))
        if missing:
            how = f"paths relative to {root}" if root is not None else "absolute paths (or give the root they are relative to)"
            raise UserError(f"{len(missing)} of the project's {len(rows)} image(s) have no vector in it (first: "
                            f"{', '.join(missing[:3])}); its ids must be the images' {how}", key=f"{what} {f.path}")
        x = np.asarray(f.vectors[np.asarray(take, np.int64)], np.float32)
        f.check_unchanged()  # not a mix of two versions of the file
        name = FILE_EMBEDDER + spec["name"]
        self._features = FeatureTable(fp, np.array([r[0] for r in rows], np.int64), x, name, checksum(x),
                                      [k for _, k, _, _ in rows])
        return self._features

    def _compute_features(self, progress: Progress) -> FeatureTable:
        from ..data.images import ImageFiles
        from ..embedders import embed

        with self._read() as con:
            settings = self._meta(con, "settings", {}) or {}
            spec = self._meta(con, "features_file", None)
        if not settings:
            raise UserError("set up the project first (name, labels, strategy)")
        fp, rows = self._items_state()
        if spec is not None:  # the project's own pipeline wrote them (use_features)
            table = self._file_features(spec, fp, rows, progress)
            if settings.get("embedder_resolved") != table.embedder:  # e.g. settings restored from a checkpoint
                with self._tx() as con:  # taken before use_features: they name the file again
                    self._settings_name_file(con, table.embedder)
            return table
        if self._features is not None and self._features.fingerprint == fp:
            return self._features
        name = settings.get("embedder_resolved") or settings["embedder"]
        options = dict(settings.get("embedder_options") or {})
        progress(f"embedding {len(rows)} image(s) with {name}", None)
        images = ImageFiles(Path("/"), [k for _, k, _, _ in rows])
        try:
            emb = embed(images, np.arange(len(rows)), name, fp, self.folder / CACHE, int(settings.get("seed", 0)), **options)
        except (OSError, ValueError) as exc:
            if isinstance(exc, UserError):
                raise
            raise UserError(f"embedding failed ({type(exc).__name__}: {exc}); an image may have changed or "
                            "been removed since it was added") from None
        if settings.get("embedder_resolved") != emb.embedder:
            with self._tx() as con:
                cur = self._meta(con, "settings", {})
                cur["embedder_resolved"] = emb.embedder
                if emb.embedder != settings["embedder"]:
                    cur["embedder_options"] = {}  # auto passes its options to dinov2 only
                con.execute("INSERT OR REPLACE INTO meta VALUES('settings', ?)", (json.dumps(cur),))
        self._features = FeatureTable(fp, np.array([r[0] for r in rows], np.int64), emb.features, emb.embedder,
                                   emb.checksum, [k for _, k, _, _ in rows])
        return self._features

    def embedder_identity(self) -> dict[str, Any]:
        f = self._feature_table()
        from ..embedders import EMBEDDERS

        fitted = not f.embedder.startswith(FILE_EMBEDDER) and bool(EMBEDDERS.entry(f.embedder).fitted)
        return {"name": f.embedder, "options": dict(self.settings.get("embedder_options") or {}),
                "dim": int(f.x.shape[1]), "fitted_on": f.fingerprint if fitted else None,
                "features_sha256": f.checksum}

    # -- the model -----------------------------------------------------------------------------
    def _labeled_rows(self, f: FeatureTable) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
        """(rows of the feature table, class codes, hash of the labeled set, the classes) of the
        labeled images (current labels only: not one given before its file changed), read in
        one snapshot."""
        with self._read() as con:
            classes = list((self._meta(con, "settings", {}) or {}).get("classes", []))
            lab = self._current_labels(con)
        row_of = {int(i): r for r, i in enumerate(f.ids)}
        items = sorted(i for i in lab if i in row_of)
        rows = np.array([row_of[i] for i in items], np.int64)
        y = np.array([classes.index(lab[i]) for i in items], np.int64)
        h = hashlib.sha256(json.dumps([[int(i), lab[i]] for i in items]).encode()).hexdigest()
        return rows, y, h, classes

    def fit(self, progress: Progress = quiet) -> FitReport:
        """Fit the linear head on the labeled images' features; estimate its accuracy by
        ``CV_FOLDS``-fold cross-validation on the labeled set (when it holds at least
        ``MIN_CV_LABELS`` images) and fit the temperature on the out-of-fold logits. The model is
        stored (a new round) with the labeled set it saw. The files are checked first: a label
        given before its image changed is left out until the image is labeled again."""
        from ..heads.calibration import fit_temperature
        from ..heads.linear import linear_head
        from ..rng import stream
        from .model_file import model_bytes

        self.check_files()
        f = self._feature_table(progress)
        rows, y, lab_hash, classes = self._labeled_rows(f)
        if len(np.unique(y)) < 2:
            raise UserError(f"label images of at least 2 classes before training ({len(y)} labeled so far)")
        t0 = time.perf_counter()
        seed = check_seed(self.settings.get("seed", 0), "project seed")
        x, c = f.x[rows], len(classes)
        n = len(y)
        folds = min(CV_FOLDS, n) if n >= MIN_CV_LABELS else 0
        oof, fold_acc = np.zeros((n, c)), []
        if folds:
            oof, fold_acc = cross_fit(x, y, c, folds, stream(seed, "cv", n), lambda: linear_head(x.shape[1], c, seed),
                                      progress)
        progress("fitting the model on every labeled image", folds / (folds + 1) if folds else 0.0)
        head = linear_head(x.shape[1], c, seed).fit(x, y)
        cv_acc = float((oof.argmax(1) == y).mean()) if folds else None
        # out-of-fold logits that are all right drive the NLL's minimum to the smallest
        # temperature (arbitrarily sharp); no evidence of over- or under-confidence: keep 1
        t = fit_temperature(oof, y, lo=TEMPERATURE_RANGE[0], hi=TEMPERATURE_RANGE[1]) if folds and cv_acc < 1.0 else 1.0
        head.temperature = 1.0 if t <= TEMPERATURE_RANGE[0] * 1.001 else t
        # the honest estimate (estimate.py): the audited images' out-of-fold predictions and
        # confidence, and the model's confidence on the images not yet labeled
        with self._read() as con:
            audited = {int(i) for (i,) in con.execute("SELECT item FROM audit")}
        is_audit = np.array([int(i) in audited for i in f.ids[rows]], bool) & (folds > 0)
        unlabeled = np.setdiff1d(np.arange(len(f.ids)), rows)
        est = audit_estimate((oof.argmax(1) == y)[is_audit], y[is_audit], classes, n,
                             softmax(oof[is_audit] / head.temperature).max(axis=1) if is_audit.any() else None,
                             head.predict_proba(f.x[unlabeled]).max(axis=1) if unlabeled.size else None)
        seconds = time.perf_counter() - t0
        cv_std = float(np.std(fold_acc, ddof=1)) if len(fold_acc) > 1 else None
        emb = self.embedder_identity()
        with self._tx() as con:
            rnd = self._next_round(con)
            blob = model_bytes(head, classes, emb, n_labeled=n, round=rnd, created=now_utc(),
                               project=str(self.settings.get("name", "")))
            con.execute("INSERT INTO models VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                        (rnd, "linear", n, lab_hash, f.checksum, blob, float(head.temperature), cv_acc, cv_std, folds,
                         seconds, now_utc()))
            con.execute("INSERT OR REPLACE INTO estimates VALUES(?,?)", (rnd, json.dumps(est.as_dict())))
            stop_ids = self._meta(con, "stop_set", None)
            if stop_ids is None:  # drawn once, at the first fit, from the images the project has then
                all_ids = np.sort(np.asarray(f.ids, np.int64))
                stop_ids = [int(i) for i in all_ids[stop_set(all_ids.size, seed)]]
                con.execute("INSERT OR REPLACE INTO meta VALUES('stop_set', ?)", (json.dumps(stop_ids),))
            row_of = {int(i): r for r, i in enumerate(f.ids)}
            stop_rows = [row_of[i] for i in stop_ids if i in row_of]
            con.execute("INSERT OR REPLACE INTO stop_predictions VALUES(?,?)",
                        (rnd, json.dumps(head.logits(f.x[stop_rows]).argmax(1).tolist() if stop_rows else [])))
        progress("model fitted", 1.0)
        return FitReport(rnd, n, float(head.temperature), cv_acc, cv_std, folds, seconds, self.accuracy_source(folds),
                         est.as_dict())

    def _next_round(self, con) -> int:
        """Model rounds never repeat, restores included (a number names one model for good:
        the page caches predictions by it)."""
        last = int(self._meta(con, "last_round", 0) or 0)
        rnd = max(last, con.execute("SELECT MAX(round) FROM models").fetchone()[0] or 0) + 1
        con.execute("INSERT OR REPLACE INTO meta VALUES('last_round', ?)", (json.dumps(rnd),))
        return rnd

    @staticmethod
    def accuracy_source(folds: int) -> str:
        if not folds:
            return f"no estimate: fewer than {MIN_CV_LABELS} labeled images"
        return (f"{folds}-fold cross-validation on the labeled images (picked by the strategy, not at random: "
                "not an estimate for the whole folder)")

    def needs_fit(self) -> bool:
        """Whether the labels (spanning at least 2 classes) or the features changed since the
        current model was fitted or imported."""
        f = self._feature_table()
        _, y, lab_hash, _ = self._labeled_rows(f)
        if len(np.unique(y)) < 2:
            return False
        with self._read() as con:
            row = con.execute("SELECT labeled_hash, features FROM models ORDER BY round DESC LIMIT 1").fetchone()
        return row is None or row[0] != lab_hash or row[1] != f.checksum

    def import_model(self, data: bytes, n_classes: int | None = None, what: str = "model file") -> int:
        """Use an exported model file (from this or another project with the same embedder and
        classes) as the current model; the next :meth:`fit` replaces it. Returns its round."""
        from .model_file import read_model_bytes

        m = read_model_bytes(data, what)
        classes = self.classes
        if n_classes is not None and int(n_classes) != len(m.classes):
            raise UserError(f"has {len(m.classes)} classes, not {n_classes}", key=what)
        if list(m.classes) != classes:
            raise UserError(f"its classes {list(m.classes)} differ from the project's labels {classes}", key=what)
        f = self._feature_table()
        if m.weight.shape[1] != f.x.shape[1] or m.embedder.get("name") != f.embedder:
            raise UserError(f"takes {m.embedder.get('name')} features of dimension {m.weight.shape[1]}; this "
                            f"project's are {f.embedder}, {f.x.shape[1]}", key=what)
        ident = self.embedder_identity()
        if dict(m.embedder.get("options") or {}) != ident["options"] or (
                ident["fitted_on"] is not None and m.embedder.get("fitted_on") != ident["fitted_on"]):
            raise UserError(f"was made for {m.embedder.get('name')} features of other images or options; "
                            f"{ident['name']} is fitted on this project's images, so its features differ", key=what)
        _, _, lab_hash, _ = self._labeled_rows(f)  # refitted once labels change
        with self._tx() as con:
            rnd = self._next_round(con)
            con.execute("INSERT INTO models VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                        (rnd, "imported", int(m.meta.get("n_labeled", 0) or 0), lab_hash, f.checksum, bytes(data),
                         m.temperature, None, None, 0, 0.0, now_utc()))
        return rnd

    def model_info(self) -> dict[str, Any] | None:
        """The current model's round, kind, labels, temperature, cross-validation figures, fit
        time, creation, features, and ``estimate`` (:meth:`estimate`)."""
        with self._read() as con:
            row = con.execute("SELECT m.round, kind, n_labeled, temperature, cv_accuracy, cv_std, folds, fit_seconds, "
                              "created, features, e.body FROM models m LEFT JOIN estimates e ON e.round = m.round "
                              "ORDER BY m.round DESC LIMIT 1").fetchone()
        if row is None:
            return None
        info = dict(zip(("round", "kind", "n_labeled", "temperature", "cv_accuracy", "cv_std", "folds", "fit_seconds",
                         "created", "features"), row[:-1]))
        info["estimate"] = json.loads(row[-1]) if row[-1] else None
        return info

    def estimate(self) -> dict[str, Any] | None:
        """The current model's accuracy, balanced accuracy and per-class recall on the images not
        yet labeled, with 95 % intervals, from the audited images (:mod:`.estimate`), as
        :meth:`Estimate.as_dict <al_bench.labeling.estimate.Estimate.as_dict>`; None for a model
        without one (imported, or fitted before the project had an audit)."""
        info = self.model_info()
        return None if info is None else info["estimate"]

    def audit_items(self) -> list[str]:
        """The audited images (keys, id order): each batch's uniform share, labeled or not yet."""
        with self._read() as con:
            keys = self._keys(con)
            return [keys[i] for (i,) in con.execute("SELECT item FROM audit ORDER BY item") if i in keys]

    def rounds(self) -> list[dict[str, Any]]:
        """Every model round: labels, cross-validation figures, fit time and the audit estimate
        (accuracy, interval, audited images; None where there is none)."""
        with self._read() as con:
            rows = con.execute("SELECT m.round, kind, n_labeled, cv_accuracy, cv_std, folds, fit_seconds, created, e.body, "
                               "sp.body FROM models m LEFT JOIN estimates e ON e.round = m.round LEFT JOIN "
                               "stop_predictions sp ON sp.round = m.round ORDER BY m.round").fetchall()
            n_classes = len((self._meta(con, "settings", {}) or {}).get("classes", [])) or 1
        out, previous = [], None
        for r, k, n, a, sd, fo, sec, c, body, stop in rows:
            est = json.loads(body) if body else None
            pred = np.asarray(json.loads(stop), np.int64) if stop else None
            # Cohen's kappa against the previous fitted round's predictions on the same stop set
            kappa = (cohen_kappa(previous, pred, max(n_classes, int(max(previous.max(), pred.max())) + 1))
                     if pred is not None and previous is not None and previous.size == pred.size and pred.size else None)
            previous = pred if pred is not None else previous
            out.append({"round": r, "kind": k, "n_labeled": n, "cv_accuracy": a, "cv_std": sd, "folds": fo, "kappa": kappa,
                        "fit_seconds": round(sec, 3), "created": c, "source": self.accuracy_source(fo),
                        "estimate": None if est is None or est["accuracy"] is None else
                        {key: est[key] for key in ("accuracy", "ci_low", "ci_high", "n_audit", "balanced_accuracy",
                                                   "balanced_ci_low", "balanced_ci_high")}})
        return out

    def forecast(self, target: float | None = None) -> dict[str, Any] | None:
        """The learning-curve forecast from the rounds' audit estimates (:func:`.stopping.forecast`):
        plateau, the next 100 labels' gain and, with ``target`` (an accuracy in (0, 1)), the labels
        to reach it, each with a 95 % bootstrap interval; None before 3 rounds have estimates."""
        from ..rng import stream

        if target is not None and not 0.0 < float(target) < 1.0:
            raise UserError(f"{target}: give an accuracy between 0 and 1", key="target")
        pts = [(r["n_labeled"], r["estimate"]) for r in self.rounds() if r["estimate"] is not None]
        if not pts:
            return None
        n = np.array([p[0] for p in pts], np.float64)
        acc = np.array([p[1]["accuracy"] for p in pts])
        se = np.array([(p[1]["ci_high"] - p[1]["ci_low"]) / (2 * Z95) for p in pts])
        seed = check_seed(self.settings.get("seed", 0), "project seed")
        return forecast(n, acc, se, stream(seed, "forecast", len(pts)), target)

    def stop_suggestion(self) -> dict[str, Any]:
        """Whether to suggest stopping, with every rule, its numbers and whether it is met
        (:func:`.stopping.suggestion`): stabilizing predictions, and the forecast. Never acted on."""
        return suggestion([r["kappa"] for r in self.rounds()], self.forecast())

    def model(self):
        """The current model (an :class:`~al_bench.labeling.model_file.ExportedModel`), or None
        before the first fit or when it was fitted on features the project no longer has."""
        from .model_file import read_model_bytes

        checksum = self._feature_table().checksum  # (may embed: not inside the read transaction)
        with self._read() as con:
            row = con.execute("SELECT round, features FROM models ORDER BY round DESC LIMIT 1").fetchone()
            if row is None or row[1] != checksum:
                return None
            if self._model_cache is None or self._model_cache[0] != row[0]:  # a round names one model for good
                blob = con.execute("SELECT blob FROM models WHERE round=?", (row[0],)).fetchone()[0]
                self._model_cache = (row[0], read_model_bytes(bytes(blob)))
        return self._model_cache[1]

    def predict(self, keys: Sequence[str | int]) -> np.ndarray:
        """Calibrated class probabilities (N, C) of the current model for ``keys``."""
        m = self.model()
        if m is None:
            raise UserError("no model yet: fit() after labeling images of at least 2 classes")
        f = self._feature_table()
        ids = self.item_ids(keys)
        row_of = {int(i): r for r, i in enumerate(f.ids)}
        return m.predict_proba(f.x[[row_of[i] for i in ids]])

