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

Images that change on disk: each item keeps the size, mtime and SHA-256 of its file as last
checked. The files are checked again (a ``stat``; the bytes are hashed only when size or mtime
differ) when the project is opened, when a source is added again, before features are computed
for :meth:`features`, :meth:`fit` or a query, and for the images being labeled. Same bytes (a
``touch``, a copy with a new mtime) change nothing. Other bytes give the item a new revision: its
features are computed anew, and a label given before the change is *a label of an earlier
version*: it stays on record (table, log, checkpoints) and is reported as ``earlier_label`` with
``changed: true`` (:meth:`items_info`), but the image counts as unlabeled — left out of
:attr:`labels`, fitting, exports and the labeled set of queries — until it is labeled again; the
app's next batch brings such images back first (strategy ``changed``). An image added before
hashes were recorded whose size or mtime differs counts as changed (its old bytes are unknown).

Durability: every change is one SQLite transaction (WAL journal, ``synchronous=FULL``), so a
label is on disk when :meth:`add_labels` returns and a killed process loses nothing that was
acknowledged; several processes or threads may write at once (SQLite's locking, with a busy
timeout). Checkpoints and exports are written to a temporary name and renamed into place.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import sqlite3
import stat
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..data.images import IMAGE_EXTENSIONS, inspect_image
from ..errors import UserError

__all__ = ["LabelingProject", "NamedSelection", "FitReport", "AddReport", "DB_FILE", "DEFAULT_STRATEGY",
           "INITIAL_STRATEGY"]

DB_FILE = "project.sqlite"
SCHEMA_VERSION = 1
DEFAULT_STRATEGY = "least_confidence"
# the first batch, before any label: TypiClust beat random at 2–5 labels per class on both
# datasets of the 10-seed study (bench/README.md), uncertainty needs a model
INITIAL_STRATEGY = "typiclust"
CV_FOLDS = 5
MIN_CV_LABELS = 10
TEMPERATURE_RANGE = (0.05, 20.0)  # fewer labels: no accuracy estimate (folds of one or two images say nothing)
MAX_NAME = 100
UPLOADS = "uploads"
CHECKPOINTS = "checkpoints"
EXPORTS = "exports"
CACHE = "cache"
CSV_PATH_COLUMNS = ("path", "image", "file", "filename")
CSV_LABEL_COLUMNS = ("label",)
STALE_TMP_SECONDS = 600
MAX_CSV_BYTES = 256 * 2**20  # a path typed by mistake (a disk image, /dev/zero) is refused, never read whole
HASH_CHUNK = 2**20
# columns added to items after schema 1 (older projects get them on open): the file as last
# checked (size, mtime, SHA-256 of its bytes), how often its content changed, and when last
ITEM_COLUMNS = (("sha256", "TEXT"), ("checked_size", "INTEGER"), ("checked_mtime_ns", "INTEGER"),
                ("revision", "INTEGER NOT NULL DEFAULT 0"), ("changed_at", "TEXT"))
# a label is current unless the file changed after it was given (see the module docstring)
CURRENT_LABEL = "(i.changed_at IS NULL OR l.at >= i.changed_at)"
CHANGED_STRATEGY = "changed"
# what a checkpoint restores (sources and items stay: images are never removed from a project)
STATE_TABLES = ("labels", "label_log", "selections", "selection_items", "subsets", "models")
RESTORED_META = ("settings",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
    source INTEGER NOT NULL, real TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, brightness REAL);
CREATE TABLE IF NOT EXISTS problems(id INTEGER PRIMARY KEY, source INTEGER, name TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels(item INTEGER PRIMARY KEY, label TEXT NOT NULL, at TEXT NOT NULL, selection TEXT);
CREATE TABLE IF NOT EXISTS label_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, item INTEGER NOT NULL, label TEXT,
    previous TEXT, at TEXT NOT NULL, undoes INTEGER);
CREATE TABLE IF NOT EXISTS selections(seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
    strategy TEXT NOT NULL, params TEXT NOT NULL, subset TEXT, created TEXT NOT NULL, n_labeled INTEGER NOT NULL,
    model_round INTEGER);
CREATE TABLE IF NOT EXISTS selection_items(selection INTEGER NOT NULL, rank INTEGER NOT NULL, item INTEGER NOT NULL,
    score REAL, PRIMARY KEY(selection, rank));
CREATE TABLE IF NOT EXISTS subsets(name TEXT NOT NULL, item INTEGER NOT NULL, PRIMARY KEY(name, item));
CREATE TABLE IF NOT EXISTS models(round INTEGER PRIMARY KEY, kind TEXT NOT NULL, n_labeled INTEGER NOT NULL,
    labeled_hash TEXT NOT NULL, features TEXT NOT NULL, blob BLOB NOT NULL, temperature REAL NOT NULL,
    cv_accuracy REAL, cv_std REAL, folds INTEGER NOT NULL, fit_seconds REAL NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(name TEXT PRIMARY KEY, file TEXT NOT NULL, created TEXT NOT NULL,
    n_labeled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS exports(seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL, path TEXT NOT NULL, created TEXT NOT NULL);
"""

Progress = Callable[[str, float | None], None]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _quiet(msg: str, frac: float | None = None) -> None:
    pass


def check_name(name: str, what: str) -> str:
    """A user-given name (project, class, checkpoint, selection): trimmed, 1–100 characters, no
    control characters, no path separators (class names become folder names on export)."""
    s = unicodedata.normalize("NFC", str(name)).strip()
    if not s:
        raise UserError("is empty", key=what)
    if len(s) > MAX_NAME:
        raise UserError(f"is longer than {MAX_NAME} characters", key=what)
    if any(unicodedata.category(ch).startswith("C") for ch in s) or "/" in s or "\\" in s or s in (".", ".."):
        raise UserError(f"{s!r}: no control characters, '/', '\\', '.' or '..'", key=what)
    return s


def parse_labels(text: str | Sequence[str]) -> list[str]:
    """Class names from what was typed (one per line or comma-separated) or a list; order kept,
    repeats dropped, each checked by :func:`check_name`."""
    parts = re.split(r"[,\n\r]", text) if isinstance(text, str) else [str(t) for t in text]
    out: list[str] = []
    for p in parts:
        if p.strip():
            name = check_name(p, f"label {p.strip()!r}")
            if name not in out:
                out.append(name)
    return out


def safe_file_name(name: str) -> str:
    """An uploaded file's name made safe: the last path component, NFC, letters, digits and
    ``._-`` kept (others → ``_``), no leading dot, at most 100 characters, extension kept."""
    base = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    clean = lambda s: "".join(ch if (ch.isalnum() or ch in "-_") else "_" for ch in s)  # noqa: E731
    stem, ext = clean(stem).lstrip("_") or "upload", clean(ext).lower()
    return (stem[: MAX_NAME - len(ext) - 1] + ("." + ext if ext else "")).lstrip(".")


def user_path(value: str | os.PathLike, what: str) -> Path:
    """A path a person gave (``~`` expanded), refused as a user error when no file could have
    that name: a NUL byte or text the file system cannot encode (os functions raise ValueError)."""
    s = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(s, str):
        raise UserError("give a path as text", key=what)
    if "\0" in s:
        raise UserError("the path contains a NUL byte, which no file name can hold", key=what)
    try:
        os.fsencode(s)
    except UnicodeEncodeError:
        raise UserError("the path holds characters no file name on this system can hold", key=what) from None
    return Path(os.path.expanduser(s))  # os.path's: an unknown ~user stays as typed


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed: a whole number >= 0 (numpy's generators refuse negatives; True or 1.5 are typos)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"{seed!r}: give a whole number >= 0", key=what)
    return int(seed)


def _file_digest(path: str) -> tuple[str, os.stat_result]:
    """(SHA-256 of the file's bytes, its stat taken on the open file before reading): a change
    during the read shows as a later stat that differs, so it is found at the next check."""
    h = hashlib.sha256()
    # non-blocking open: a file swapped for a FIFO since its stat is refused, not waited on
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path}: not a regular file")
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest(), st


@dataclass(frozen=True)
class NamedSelection:
    """A query kept in the project: its strategy and parameters, when, and the ids it picked."""

    name: str
    strategy: str
    params: dict[str, Any]
    created: str
    ids: tuple[str, ...]  # item keys (absolute paths), pick order
    scores: tuple[float, ...]
    subset: str | None = None
    n_labeled: int = 0  # labeled-set size when the query ran
    model_round: int | None = None


@dataclass(frozen=True)
class AddReport:
    added: int
    labeled: int
    skipped: tuple[tuple[str, str], ...]  # (name, reason)
    already: int = 0  # items the project had already

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "labeled": self.labeled, "already": self.already,
                "skipped": [{"name": n, "reason": r} for n, r in self.skipped]}


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


@dataclass
class _Features:
    fingerprint: str
    ids: np.ndarray  # item ids, row order
    x: np.ndarray
    embedder: str
    checksum: str
    keys: list[str] = field(default_factory=list)


class LabelingProject:
    """A labeling project in a folder (see the module docstring). Open with :meth:`open`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.db_path = self.folder / DB_FILE
        self._features: _Features | None = None
        self._anchor: sqlite3.Connection | None = None
        self._model_cache: tuple[int, Any] | None = None  # (round, parsed model): predictions are asked per image
        self._features_lock = threading.Lock()  # threads of one server share one embedding
        self._local = threading.local()  # per thread: files_checked while next_batch runs a query

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
            # kept open while the object lives: the WAL and its index then stay on disk, so reads
            # (the page's state) still work on a full disk, where recreating them would fail
            p._anchor = p._connect()
            p._anchor.execute("PRAGMA journal_mode=WAL")  # persistent in the database file
            with closing(p._connect()) as con:
                con.executescript(_SCHEMA)  # idempotent; executescript commits on its own
            with p._tx() as con:
                row = con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    con.execute("INSERT INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
                    con.execute("INSERT INTO meta VALUES('created', ?)", (_now(),))
                    con.execute("INSERT INTO meta VALUES('project_id', ?)", (uuid.uuid4().hex,))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise UserError(f"was written by a newer al_bench (schema {row[0]})", key=str(p.db_path))
                have = {r[1] for r in con.execute("PRAGMA table_info(items)")}
                for col, decl in ITEM_COLUMNS:  # additive: older al_bench versions still read the project
                    if col not in have:
                        con.execute(f"ALTER TABLE items ADD COLUMN {col} {decl}")
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                raise UserError("is on a read-only file system or not writable", key=str(folder)) from None
            raise UserError(f"is not a usable project database ({exc})", key=str(p.db_path)) from None
        p._anchor.execute("SELECT COUNT(*) FROM meta").fetchone()  # the anchor now holds the WAL open
        p._clean_temporaries()
        p.check_files()  # images replaced while the project was closed
        return p

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=OFF")
        return con

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue instead of failing midway)."""
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            _bump(con)
            con.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (one snapshot for everything read inside)."""
        with closing(self._connect()) as con:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                con.execute("COMMIT")

    def _clean_temporaries(self) -> None:
        """Temporary files a killed process left, and checkpoint files it renamed into place but
        never listed (older than 10 minutes: another process may be writing them now)."""
        now = time.time()
        d = self.folder / CHECKPOINTS
        if d.is_dir():
            with self._read() as con:
                listed = {f for (f,) in con.execute("SELECT file FROM checkpoints")}
            for f in d.glob("*.sqlite"):
                try:
                    if f.name not in listed and now - f.stat().st_mtime > STALE_TMP_SECONDS:
                        f.unlink()
                except OSError:
                    pass
        for sub in (CHECKPOINTS, EXPORTS, UPLOADS):
            d = self.folder / sub
            if not d.is_dir():
                continue
            for f in [*d.glob(".tmp-*"), *d.glob(".*.tmp")]:  # ours, and runfiles.atomic_write's
                try:
                    if now - f.lstat().st_mtime > STALE_TMP_SECONDS:
                        if f.is_dir() and not f.is_symlink():
                            import shutil

                            shutil.rmtree(f)
                        else:
                            f.unlink()
                except OSError:
                    pass

    # -- settings ------------------------------------------------------------------------------
    def _meta(self, con, key: str, default=None):
        row = con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            return default
        return row[0] if key in ("schema", "created", "project_id", "version") else json.loads(row[0])

    @property
    def settings(self) -> dict[str, Any]:
        """name, classes, strategy, batch_size, embedder, embedder_options, seed, initial_strategy;
        empty before :meth:`setup`."""
        with self._read() as con:
            return self._meta(con, "settings", {}) or {}

    @property
    def is_setup(self) -> bool:
        return bool(self.settings)

    @property
    def classes(self) -> list[str]:
        return list(self.settings.get("classes", []))

    def setup(self, name: str, labels: str | Sequence[str], strategy: str = DEFAULT_STRATEGY, batch_size: int = 20,
              embedder: str = "auto", seed: int = 0, initial_strategy: str = INITIAL_STRATEGY,
              embedder_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Name the project and its classes and choose how it picks; again later to change the
        strategy or batch size (classes may only be added, never renamed or removed, once labels
        use them; the embedder is fixed once features were computed)."""
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
        if embedder not in EMBEDDERS:
            raise UserError(f"unknown embedder {embedder!r}; choose one of {', '.join(sorted(EMBEDDERS))}",
                            key="embedder")
        batch_size = int(batch_size)
        if not 1 <= batch_size <= 10_000:
            raise UserError(f"{batch_size}: give 1 to 10000", key="batch size")
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
                        "seed": int(old.get("seed", seed)), "initial_strategy": initial_strategy}
            settings.setdefault("embedder_resolved", None)
            con.execute("INSERT OR REPLACE INTO meta VALUES('settings', ?)", (json.dumps(settings),))
        return settings

    # -- sources -------------------------------------------------------------------------------
    def _insert_items(self, con, source: int, rows: list[tuple[str, str, str, int, int, float]]) -> tuple[list[int], int]:
        """Insert (key, name, real, size, mtime_ns, brightness) rows; (ids added, how many were there)."""
        added: list[int] = []
        for key, name, real, size, mtime, bright in rows:
            cur = con.execute("INSERT OR IGNORE INTO items(key, name, source, real, size, mtime_ns, brightness) "
                              "VALUES(?,?,?,?,?,?,?)", (key, name, source, real, size, mtime, bright))
            if cur.rowcount:
                added.append(cur.lastrowid)
        return added, len(rows) - len(added)

    def _source(self, con, kind: str, path: str) -> int:
        """The source ``kind`` at ``path``: the one added before (a folder added again is one
        source, listed once), else a new one."""
        row = con.execute("SELECT id FROM sources WHERE kind=? AND path=? ORDER BY id LIMIT 1", (kind, path)).fetchone()
        if row is not None:
            return row[0]
        return con.execute("INSERT INTO sources(kind, path, added) VALUES(?,?,?)", (kind, path, _now())).lastrowid

    def _record_problems(self, con, src: int, kind: str, path: str, skipped: Sequence[tuple[str, str]],
                         replace: bool) -> None:
        """List ``skipped`` (name, reason) under source ``src``. With ``replace`` (a folder: its
        scan lists every problem under it) earlier lists of that source give way; otherwise only
        problems not listed yet are added. Either way a problem found again is listed once."""
        if replace:  # sources of the same path from before sources were reused included
            con.execute("DELETE FROM problems WHERE source IN (SELECT id FROM sources WHERE kind=? AND path=?)",
                        (kind, path))
        have = {(n, r) for n, r in con.execute("SELECT name, reason FROM problems WHERE source=?", (src,))}
        new = list(dict.fromkeys(p for p in skipped if tuple(p) not in have))
        con.executemany("INSERT INTO problems(source, name, reason) VALUES(?,?,?)", [(src, n, r) for n, r in new])

    def add_folder(self, folder: str | Path, follow_links: bool = False, progress: Progress = _quiet) -> AddReport:
        """Every image under ``folder`` (recursively; unreadable ones skipped and listed, once
        however often the folder is added; links leading outside the folder left out unless
        ``follow_links``). Images added before are checked for changed content."""
        from ..picking.folder import scan_folder

        folder = user_path(folder, "folder")
        if not folder.is_absolute():
            raise UserError("give an absolute path", key=f"folder {folder}")
        try:
            os.stat(folder)
        except (FileNotFoundError, NotADirectoryError):
            pass  # the scan words it ("no such folder")
        except OSError as exc:  # a name too long, a loop of links, no permission
            raise UserError(f"cannot read it ({exc.strerror or exc})", key=f"folder {folder}") from None
        progress(f"checking the images under {folder}", None)
        scan = scan_folder(folder, self.folder / CACHE, progress=False, exclude=[self.folder], what="folder",
                           follow_links=follow_links)
        rows = []
        skipped = list(scan.bad) + list(scan.left_out)
        for rel, b in zip(scan.good, scan.brightness):
            path = scan.root / rel
            try:
                st = path.stat()
            except OSError as exc:  # removed since the scan
                skipped.append((rel, f"cannot read it ({exc.strerror or exc})"))
                continue
            rows.append((str(path), rel, os.path.realpath(path), st.st_size, st.st_mtime_ns, float(b)))
        with self._tx() as con:
            src = self._source(con, "folder", str(scan.root))
            added, already = self._insert_items(con, src, rows)
            self._record_problems(con, src, "folder", str(scan.root), skipped, replace=True)
        self._features = None
        self.check_files(new=added)
        return AddReport(len(added), 0, tuple(skipped), already)

    def add_csv(self, csv_file: str | Path | None = None, text: str | None = None, name: str = "uploaded.csv") -> AddReport:
        """Images listed in a CSV (a ``path`` column — or ``image``, ``file``, ``filename`` —
        and optionally ``label``): the labels given become labeled images. Relative paths are
        relative to the CSV file's folder (an uploaded CSV's ``text`` needs absolute paths).
        Unknown columns, rows with more cells than the header, repeated paths or labels not
        among the project's labels fail before anything is added; missing or unreadable files are
        skipped and listed. Errors name the line; a file whose first line names no path column
        is not taken for a CSV, and none of its text is repeated."""
        if (csv_file is None) == (text is None):
            raise UserError("give a CSV file or its text")
        if csv_file is not None:
            csv_file = user_path(csv_file, "CSV file")
            what = f"CSV {csv_file}"
            text = _read_csv_file(csv_file, what)
            base = csv_file.resolve().parent
        else:
            what, base = f"CSV {name}", None
            text = str(text).lstrip("\ufeff")
        header, records = _parse_csv(text, what)
        # files changed since their last check are recorded first: a label in the CSV is then
        # one of the image there now, and a label of an earlier version clashes with nothing
        self.check_files()
        pc = next(c for c in header if c.lower() in CSV_PATH_COLUMNS)
        lc = next((c for c in header if c.lower() == "label"), None)
        classes = self.classes
        rows, labels, skipped, seen = [], {}, [], set()
        bad_labels = []
        for line, r in records:
            raw = r[pc]
            if not raw:
                skipped.append((f"line {line}", "empty path"))
                continue
            p = Path(os.path.expanduser(raw))
            if not p.is_absolute():
                if base is None:
                    skipped.append((raw, "relative path in an uploaded CSV (give absolute paths)"))
                    continue
                p = base / p
            p = Path(os.path.abspath(p))
            if str(p) in seen:
                raise UserError(f"lists {raw} twice (line {line})", key=what)
            seen.add(str(p))
            label = r[lc] if lc else ""
            if label and classes and label not in classes:
                bad_labels.append(f"{label!r} (line {line})")
            try:
                if not p.is_file():
                    skipped.append((raw, "no such file" if not p.exists() else "not a file"))
                    continue
                if p.suffix.lower() not in IMAGE_EXTENSIONS:
                    skipped.append((raw, f"not an image file name ({' '.join(IMAGE_EXTENSIONS)})"))
                    continue
                reason, b = inspect_image(p)
                if reason:
                    skipped.append((raw, reason))
                    continue
                st = p.stat()
            except (OSError, ValueError) as exc:  # a name too long, not encodable, a file gone meanwhile
                skipped.append((raw, f"cannot read it ({getattr(exc, 'strerror', None) or type(exc).__name__})"))
                continue
            rows.append((str(p), raw, os.path.realpath(p), st.st_size, st.st_mtime_ns, float(b)))
            if label:
                labels[str(p)] = check_name(label, f"label on line {line}")
        if bad_labels:
            raise UserError(f"labels not among the project's labels {classes}: {', '.join(bad_labels[:5])}", key=what)
        source_path = str(csv_file) if csv_file is not None else name
        with self._tx() as con:
            src = self._source(con, "csv", source_path)
            added, already = self._insert_items(con, src, rows)
            self._record_problems(con, src, "csv", source_path, skipped, replace=False)
            if labels:
                keys = {k: i for i, k in self._keys(con).items()}
                have = self._current_labels(con)  # a label of an earlier version of the image is no clash
                clash = [(k, have[keys[k]], v) for k, v in labels.items() if keys[k] in have and have[keys[k]] != v]
                if clash:
                    raise UserError(f"{len(clash)} image(s) already have another label (first: "
                                    + ", ".join(f"{Path(k).name}: {old!r} here, {new!r} in the CSV" for k, old, new in clash[:3])
                                    + "); nothing was added. Relabel them in the app, or drop those rows", key=what)
                labels = {k: v for k, v in labels.items() if keys[k] not in have}
            n_lab = self._write_labels(con, labels) if labels else 0
        self._features = None
        self.check_files(new=added)
        return AddReport(len(added), n_lab, tuple(skipped), already)

    def add_upload(self, file_name: str, data: bytes) -> AddReport:
        """One uploaded image, stored under ``uploads/`` with a sanitized, unused name."""
        safe = safe_file_name(file_name)
        if Path(safe).suffix.lower() not in IMAGE_EXTENSIONS:
            return AddReport(0, 0, ((str(file_name), f"not an image file name ({' '.join(IMAGE_EXTENSIONS)})"),))
        up = self.folder / UPLOADS
        up.mkdir(exist_ok=True)
        tmp = up / f".tmp-{uuid.uuid4().hex}{Path(safe).suffix.lower()}"
        tmp.write_bytes(data)
        reason, b = inspect_image(tmp)
        if reason:
            tmp.unlink()
            return AddReport(0, 0, ((str(file_name), reason),))
        stem, suffix = Path(safe).stem, Path(safe).suffix
        for k in range(10_000):
            dest = up / (safe if k == 0 else f"{stem}-{k}{suffix}")
            try:
                os.link(tmp, dest)  # fails if the name is taken: never overwrites another upload
                break
            except FileExistsError:
                continue
        else:
            tmp.unlink()
            raise UserError("too many uploads with this name", key=f"upload {safe}")
        tmp.unlink()
        st = dest.stat()
        with self._tx() as con:
            src = con.execute("SELECT id FROM sources WHERE kind='upload'").fetchone()
            src = src[0] if src else self._source(con, "upload", str(up))
            added, already = self._insert_items(con, src, [(str(dest), dest.name, os.path.realpath(dest), st.st_size,
                                                             st.st_mtime_ns, float(b))])
        self._features = None
        self.check_files(ids=added, new=added)  # its hash; the other images are not re-read per upload
        return AddReport(len(added), 0, (), already)

    # -- what the project holds -----------------------------------------------------------------
    def _keys(self, con) -> dict[int, str]:
        return dict(con.execute("SELECT id, key FROM items ORDER BY id"))

    @property
    def items(self) -> list[str]:
        """Every image's key (absolute path), in the order they were added."""
        with self._read() as con:
            return list(self._keys(con).values())

    def _current_labels(self, con) -> dict[int, str]:
        """item id → label, of the labels given to the image's current content (a label given
        before the file changed is not one: see the module docstring)."""
        return dict(con.execute(f"SELECT l.item, l.label FROM labels l JOIN items i ON i.id = l.item "
                                f"WHERE {CURRENT_LABEL} ORDER BY l.item"))

    @property
    def labels(self) -> dict[str, str]:
        """key → label of every labeled image (labels given to an earlier version of a changed
        image left out: :meth:`changed_labels` lists them)."""
        with self._read() as con:
            return dict(con.execute(f"SELECT i.key, l.label FROM labels l JOIN items i ON i.id = l.item "
                                    f"WHERE {CURRENT_LABEL} ORDER BY i.id"))

    @property
    def labeled_set(self) -> list[str]:
        return list(self.labels)

    @property
    def unlabeled_set(self) -> list[str]:
        with self._read() as con:
            return [r[0] for r in con.execute(f"SELECT i.key FROM items i LEFT JOIN labels l ON l.item = i.id "
                                              f"WHERE l.item IS NULL OR NOT {CURRENT_LABEL} ORDER BY i.id")]

    def changed_labels(self) -> dict[str, str]:
        """key → label of the images whose file changed after they were labeled: the label was
        given to an earlier version and waits for the image to be labeled again."""
        with self._read() as con:
            return dict(con.execute(f"SELECT i.key, l.label FROM labels l JOIN items i ON i.id = l.item "
                                    f"WHERE NOT {CURRENT_LABEL} ORDER BY i.id"))

    def check_files(self, ids: Iterable[int | str] | None = None, new: Iterable[int] = ()) -> list[str]:
        """Look at the image files again (all, or the items ``ids``: integer ids or keys; others
        are ignored); the keys whose content
        changed. A file whose size and mtime are as last checked is taken as unchanged; otherwise
        its bytes are hashed: the same hash only records the new stat, another gives the item a
        new revision (its features are computed anew) and the time of the change, which turns a
        label given before it into a label of an earlier version. ``new``: items just added,
        whose first hash is recorded. Missing or unreadable files are left alone (serving and
        embedding them say so)."""
        new = {int(i) for i in new}
        cols = "SELECT id, key, size, mtime_ns, sha256, checked_size, checked_mtime_ns FROM items"
        with self._read() as con:
            if ids is None:
                rows = con.execute(f"{cols} ORDER BY id").fetchall()
            else:  # a few items (the ones being labeled): looked up, not the whole table read
                want = list(ids)
                by = {"id": [int(i) for i in want if isinstance(i, (int, np.integer)) and not isinstance(i, bool)],
                      "key": [i for i in want if isinstance(i, str)]}
                found = {}
                for col, values in by.items():
                    for k in range(0, len(values), 500):
                        part = values[k:k + 500]
                        for r in con.execute(f"{cols} WHERE {col} IN ({','.join('?' * len(part))})", part):
                            found[r[0]] = r
                rows = [found[i] for i in sorted(found)]
        fills, touched, changed = [], [], []
        for item, key, size, mtime, sha, c_size, c_mtime in rows:
            try:
                st = os.stat(key)
            except (OSError, ValueError):
                continue
            known = (size, mtime) if c_size is None else (c_size, c_mtime)
            if (sha is not None and (st.st_size, st.st_mtime_ns) == known) or not stat.S_ISREG(st.st_mode):
                continue
            try:
                digest, st = _file_digest(key)
            except (OSError, ValueError):
                continue
            now = (st.st_size, st.st_mtime_ns)
            if sha is None and (item in new or now == (size, mtime)):
                fills.append((digest, *now, item))  # first hash, of the bytes added
            elif digest == sha:
                touched.append((*now, item, sha))  # same bytes, new stat (touch, copy): nothing changed
            else:
                reason, bright = inspect_image(Path(key))
                changed.append((digest, *now, None if reason else bright, item, sha, key))
        if not (fills or touched or changed):
            return []
        at = _now()
        with self._tx() as con:
            # each update only if the row is still as read: another process may have seen it first
            con.executemany("UPDATE items SET sha256=?, checked_size=?, checked_mtime_ns=? "
                            "WHERE id=? AND sha256 IS NULL", fills)
            con.executemany("UPDATE items SET checked_size=?, checked_mtime_ns=? WHERE id=? AND sha256=?", touched)
            done = []
            for digest, c_size, c_mtime, bright, item, sha, key in changed:
                cur = con.execute("UPDATE items SET sha256=?, checked_size=?, checked_mtime_ns=?, revision=revision+1, "
                                  "changed_at=?, brightness=COALESCE(?, brightness) WHERE id=? AND sha256 IS ?",
                                  (digest, c_size, c_mtime, at, bright, item, sha))
                if cur.rowcount:
                    done.append(key)
        if changed:
            self._features = None
        return done

    @property
    def added_set(self) -> list[str]:
        """The ids the last query picked (empty before any)."""
        sel = self.last_selection()
        return list(sel.ids) if sel else []

    def item_ids(self, keys: Iterable[str | int]) -> list[int]:
        """Integer ids of items given by key (absolute path), name or integer id; unknown ones fail."""
        with self._read() as con:
            return self._resolve(con, keys)

    def _resolve(self, con, keys: Iterable[str | int]) -> list[int]:
        by_key = {k: i for i, k in self._keys(con).items()}
        out, missing = [], []
        for k in keys:
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
                if int(k) in by_key.values():
                    out.append(int(k))
                    continue
            elif str(k) in by_key:
                out.append(by_key[str(k)])
                continue
            missing.append(str(k))
        if missing:
            raise UserError(f"{len(missing)} id(s) are not images of this project (first: {', '.join(missing[:3])})")
        return out

    # an item's label state: the current label, or the label of an earlier version (changed)
    _ITEM_STATE = (f"CASE WHEN {CURRENT_LABEL} THEN l.label END, CASE WHEN NOT {CURRENT_LABEL} THEN l.label END, "
                   "i.revision")

    @staticmethod
    def _item_state(label: str | None, earlier: str | None, revision: int) -> dict[str, Any]:
        """label (None while unlabeled, or labeled only before the file changed); changed: the
        file changed after its label was given; earlier_label: that label; revision: how often
        the file's content changed (the page asks for the image by it, past its cache)."""
        return {"label": label, "changed": earlier is not None, "earlier_label": earlier, "revision": int(revision or 0)}

    def items_info(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """id, key, name and label state (:meth:`_item_state`) of each of ``keys`` (item keys), in one read."""
        with self._read() as con:
            rows = {k: (i, n, st) for i, k, n, *st in con.execute(
                f"SELECT i.id, i.key, i.name, {self._ITEM_STATE} FROM items i LEFT JOIN labels l ON l.item = i.id")}
        return [{"id": rows[k][0], "key": k, "name": rows[k][1], **self._item_state(*rows[k][2])} for k in keys]

    def item(self, item_id: int) -> dict[str, Any]:
        with self._read() as con:
            row = con.execute(f"SELECT i.id, i.key, i.name, i.real, s.kind, s.path, {self._ITEM_STATE} FROM items i "
                              "JOIN sources s ON s.id = i.source LEFT JOIN labels l ON l.item = i.id WHERE i.id=?",
                              (int(item_id),)).fetchone()
        if row is None:
            raise KeyError(item_id)
        return {**dict(zip(("id", "key", "name", "real", "source_kind", "source_path"), row[:6])),
                **self._item_state(*row[6:])}

    def image_file(self, item_id: int) -> Path:
        """The file to serve for ``item_id``: only the file recorded when it was added, still a
        regular file at the same real path (a link swapped since, or a file replaced by a link
        to elsewhere, is refused)."""
        it = self.item(item_id)
        path = Path(it["key"])
        real = os.path.realpath(path)
        if real != it["real"] or not os.path.isfile(real):
            raise PermissionError(f"{it['name']}: the file changed since it was added")
        return Path(real)

    def problems(self) -> list[tuple[str, str]]:
        with self._read() as con:
            return [tuple(r) for r in con.execute("SELECT name, reason FROM problems ORDER BY id")]

    def sources(self) -> list[dict[str, Any]]:
        with self._read() as con:
            return [{"kind": k, "path": p, "n_items": n} for k, p, n in con.execute(
                "SELECT s.kind, s.path, COUNT(i.id) FROM sources s LEFT JOIN items i ON i.source = s.id "
                "GROUP BY s.id ORDER BY s.id")]

    # -- labels --------------------------------------------------------------------------------
    def _write_labels(self, con, labels: Mapping[str, str], selection_of: Mapping[str, str] | None = None) -> int:
        """Write key → label, each tagged with ``selection_of[key]`` (the batch it answers) or none."""
        by_key = {k: i for i, k in self._keys(con).items()}
        now = _now()
        n = 0
        for key, label in labels.items():
            item = by_key[key]
            selection = None if selection_of is None else selection_of.get(key)
            prev = con.execute("SELECT label FROM labels WHERE item=?", (item,)).fetchone()
            con.execute("INSERT OR REPLACE INTO labels(item, label, at, selection) VALUES(?,?,?,?)",
                        (item, label, now, selection))
            con.execute("INSERT INTO label_log(item, label, previous, at) VALUES(?,?,?,?)",
                        (item, label, prev[0] if prev else None, now))
            n += 1
        return n

    def add_labels(self, labels: Mapping[str | int, str] | Iterable[tuple[str | int, str]]) -> int:
        """Label images (key, name or integer id → class name); one transaction, on disk when it
        returns. Relabeling an image replaces its label (the log keeps both)."""
        pairs = list(labels.items()) if isinstance(labels, Mapping) else [tuple(p) for p in labels]
        classes = self.classes
        if not classes:
            raise UserError("set the project's labels first (setup)")
        bad = sorted({str(lab) for _, lab in pairs if str(lab) not in classes})
        if bad:
            raise UserError(f"unknown label(s) {bad}; the project's labels are {classes}")
        # a file replaced since its last check: its change is recorded first, so this label,
        # given to the content there now, counts as given to the new version
        self.check_files(ids=[k for k, _ in pairs])
        with self._tx() as con:
            ids = self._resolve(con, [k for k, _ in pairs])
            keys = self._keys(con)
            last = self._last_selection(con)
            in_last = set(last.ids) if last else set()
            out = {keys[i]: str(lab) for i, (_, lab) in zip(ids, pairs)}
            return self._write_labels(con, out, {k: last.name for k in out if k in in_last})

    def remove_label(self, key: str | int) -> str | None:
        """Take an image's label back (undo); returns the label it had, or None."""
        with self._tx() as con:
            (item,) = self._resolve(con, [key])
            prev = con.execute("SELECT label FROM labels WHERE item=?", (item,)).fetchone()
            if prev is None:
                return None
            con.execute("DELETE FROM labels WHERE item=?", (item,))
            con.execute("INSERT INTO label_log(item, label, previous, at) VALUES(?,?,?,?)", (item, None, prev[0], _now()))
        return prev[0]

    def undo_last(self, within: Sequence[str] | None = None) -> str | None:
        """Take back the most recent label still in place (among ``within`` keys, if given): the
        image gets the label it had before (none, for a first label); its key. Repeated calls go
        further back; an undo is never itself undone."""
        with self._tx() as con:
            keys = self._keys(con)
            allowed = None if within is None else set(within)
            undone: set[int] = set()
            for seq, item, label, prev, undoes in con.execute(
                    "SELECT seq, item, label, previous, undoes FROM label_log ORDER BY seq DESC LIMIT 5000").fetchall():
                if undoes is not None:
                    undone.add(undoes)
                    continue
                cur = con.execute("SELECT label FROM labels WHERE item=?", (item,)).fetchone()
                if seq in undone or label is None or cur is None or cur[0] != label \
                        or (allowed is not None and keys[item] not in allowed):
                    continue
                if prev is None:
                    con.execute("DELETE FROM labels WHERE item=?", (item,))
                else:  # a relabel: back to the label it had before, as of when that was given
                    given = con.execute("SELECT at FROM label_log WHERE item=? AND seq<? AND label=? AND undoes IS NULL "
                                        "ORDER BY seq DESC LIMIT 1", (item, seq, prev)).fetchone()
                    # (so a label given before the file changed stays a label of the earlier version)
                    con.execute("UPDATE labels SET label=?, at=? WHERE item=?", (prev, given[0] if given else _now(), item))
                con.execute("INSERT INTO label_log(item, label, previous, at, undoes) VALUES(?,?,?,?,?)",
                            (item, prev, label, _now(), seq))
                return keys[item]
        return None

    def per_class(self) -> dict[str, int]:
        counts = {c: 0 for c in self.classes}
        with self._read() as con:
            for lab in self._current_labels(con).values():
                counts[lab] = counts.get(lab, 0) + 1
        return counts

    # -- subsets -------------------------------------------------------------------------------
    def define_subset(self, name: str, keys: Iterable[str | int]) -> int:
        """A named subset of the images that queries may be restricted to (replaces one of that name)."""
        name = check_name(name, "subset name")
        with self._tx() as con:
            ids = self._resolve(con, keys)
            con.execute("DELETE FROM subsets WHERE name=?", (name,))
            con.executemany("INSERT OR IGNORE INTO subsets VALUES(?,?)", [(name, i) for i in ids])
        return len(set(ids))

    def define_brightness_subset(self, name: str, min_brightness: float | None = None,
                                 max_brightness: float | None = None) -> int:
        """The images whose mean luma (0–255) lies within the bounds, as subset ``name``."""
        with self._read() as con:
            rows = con.execute("SELECT id, brightness FROM items").fetchall()
        keep = [i for i, b in rows if b is not None and (min_brightness is None or b >= min_brightness)
                and (max_brightness is None or b <= max_brightness)]
        return self.define_subset(name, keep)

    def subsets(self) -> dict[str, int]:
        with self._read() as con:
            return dict(con.execute("SELECT name, COUNT(*) FROM subsets GROUP BY name ORDER BY name"))

    # -- features ------------------------------------------------------------------------------
    def features(self, progress: Progress = _quiet) -> tuple[list[str], np.ndarray]:
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

    def _feature_table(self, progress: Progress = _quiet) -> _Features:
        with self._features_lock:
            return self._compute_features(progress)

    def _compute_features(self, progress: Progress) -> _Features:
        from ..data.images import ImageFiles
        from ..embedders import embed

        settings = self.settings
        if not settings:
            raise UserError("set up the project first (name, labels, strategy)")
        with self._read() as con:
            fp, rows = self._items_fingerprint(con)
        if not rows:
            raise UserError("the project has no images yet: add a folder, a CSV or uploads")
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
        self._features = _Features(fp, np.array([r[0] for r in rows], np.int64), emb.features, emb.embedder,
                                   emb.checksum, [k for _, k, _, _ in rows])
        return self._features

    def embedder_identity(self) -> dict[str, Any]:
        f = self._feature_table()
        from ..embedders import EMBEDDERS

        fitted = bool(EMBEDDERS.entry(f.embedder).fitted)
        return {"name": f.embedder, "options": dict(self.settings.get("embedder_options") or {}),
                "dim": int(f.x.shape[1]), "fitted_on": f.fingerprint if fitted else None,
                "features_sha256": f.checksum}

    # -- the model -----------------------------------------------------------------------------
    def _labeled_rows(self, f: _Features) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
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

    def fit(self, progress: Progress = _quiet) -> FitReport:
        """Fit the linear head on the labeled images' features; estimate its accuracy by
        ``CV_FOLDS``-fold cross-validation on the labeled set (when it holds at least
        ``MIN_CV_LABELS`` images) and fit the temperature on the out-of-fold logits. The model is
        stored (a new round) with the labeled set it saw. The files are checked first: a label
        given before its image changed is left out until the image is labeled again."""
        from ..heads.calibration import fit_temperature
        from ..heads.linear import LinearHead, LinearSettings
        from .model_file import model_bytes

        self.check_files()
        f = self._feature_table(progress)
        rows, y, lab_hash, classes = self._labeled_rows(f)
        if len(np.unique(y)) < 2:
            raise UserError(f"label images of at least 2 classes before training ({len(y)} labeled so far)")
        t0 = time.perf_counter()
        settings = LinearSettings()
        seed = check_seed(self.settings.get("seed", 0), "project seed")
        x, c = f.x[rows], len(classes)
        n = len(y)
        folds = min(CV_FOLDS, n) if n >= MIN_CV_LABELS else 0
        oof = np.zeros((n, c))
        fold_acc = []
        if folds:
            perm = np.random.default_rng([seed, n]).permutation(n)
            parts = np.array_split(perm, folds)
            for k, val in enumerate(parts):
                progress(f"cross-validation fold {k + 1} of {folds}", k / (folds + 1))
                train = np.setdiff1d(perm, val)
                h = LinearHead(x.shape[1], c, settings, seed).fit(x[train], y[train])
                oof[val] = h.logits(x[val])
                fold_acc.append(float((oof[val].argmax(1) == y[val]).mean()))
        progress("fitting the model on every labeled image", folds / (folds + 1) if folds else 0.0)
        head = LinearHead(x.shape[1], c, settings, seed).fit(x, y)
        cv_acc = float((oof.argmax(1) == y).mean()) if folds else None
        # out-of-fold logits that are all right drive the NLL's minimum to the smallest
        # temperature (arbitrarily sharp); no evidence of over- or under-confidence: keep 1
        t = fit_temperature(oof, y, lo=TEMPERATURE_RANGE[0], hi=TEMPERATURE_RANGE[1]) if folds and cv_acc < 1.0 else 1.0
        head.temperature = 1.0 if t <= TEMPERATURE_RANGE[0] * 1.001 else t
        seconds = time.perf_counter() - t0
        cv_std = float(np.std(fold_acc, ddof=1)) if len(fold_acc) > 1 else None
        emb = self.embedder_identity()
        with self._tx() as con:
            rnd = self._next_round(con)
            blob = model_bytes(head, classes, emb, n_labeled=n, round=rnd, created=_now(),
                               project=str(self.settings.get("name", "")))
            con.execute("INSERT INTO models VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                        (rnd, "linear", n, lab_hash, f.checksum, blob, float(head.temperature), cv_acc, cv_std, folds,
                         seconds, _now()))
        progress("model fitted", 1.0)
        return FitReport(rnd, n, float(head.temperature), cv_acc, cv_std, folds, seconds, self.accuracy_source(folds))

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
                         m.temperature, None, None, 0, 0.0, _now()))
        return rnd

    def model_info(self) -> dict[str, Any] | None:
        with self._read() as con:
            row = con.execute("SELECT round, kind, n_labeled, temperature, cv_accuracy, cv_std, folds, fit_seconds, "
                              "created, features FROM models ORDER BY round DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return dict(zip(("round", "kind", "n_labeled", "temperature", "cv_accuracy", "cv_std", "folds", "fit_seconds",
                         "created", "features"), row))

    def rounds(self) -> list[dict[str, Any]]:
        with self._read() as con:
            rows = con.execute("SELECT round, kind, n_labeled, cv_accuracy, cv_std, folds, fit_seconds, created "
                               "FROM models ORDER BY round").fetchall()
        return [{"round": r, "kind": k, "n_labeled": n, "cv_accuracy": a, "cv_std": s, "folds": fo,
                 "fit_seconds": round(sec, 3), "created": c, "source": self.accuracy_source(fo)}
                for r, k, n, a, s, fo, sec, c in rows]

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

    # -- queries -------------------------------------------------------------------------------
    def query(self, strategy: str | None = None, n: int | None = None, *, total: int | None = None,
              subset: str | None = None, name: str | None = None, seed: int | None = None,
              progress: Progress = _quiet, segmentation_model: Any = None,
              segmentation: Mapping[str, Any] | None = None, **params: Any) -> NamedSelection:
        """Pick ``n`` unlabeled images with ``strategy`` (default: the project's), or as many as
        bring the labeled set to ``total`` (Lightly's ``n_samples``), among ``subset`` if given.
        The current model serves strategies that read one; the picks are kept as selection
        ``name`` (default ``query-<k>``) with the strategy, parameters, time and ids.

        With ``segmentation_model`` (a model file path or a loaded
        :class:`~al_bench.segmentation.SegmentationModel`) the strategy is a segmentation recipe
        (``alges``, ``alges_coreset``, ``uncertainty_coreset``, ``uncertainty``, ``kcenter``,
        ``hybrid``): the network runs on the candidates through the provider (``segmentation``:
        its options — ``arch``, ``num_classes``, ``provider``, ``image_size``, ... — cached under
        the project's ``cache/``) and the recipe picks, coresets on the project's embedding.

        The files are checked first: an image labeled before its file changed is unlabeled
        here (it may be picked again). ``seed``: a whole number >= 0 (default: from the
        project's seed and the query's number)."""
        from ..picking import select
        from ..strategies import check_params

        settings = self.settings
        strategy = strategy or settings.get("strategy", DEFAULT_STRATEGY)
        if segmentation_model is None:
            check_params(strategy, params)
        if name is not None:
            name = check_name(name, "selection name")
        seed = None if seed is None else check_seed(seed)
        project_seed = check_seed(settings.get("seed", 0), "project seed")
        if not getattr(self._local, "files_checked", False):  # next_batch has just checked them
            self.check_files()
        f = self._feature_table(progress)
        with self._read() as con:
            labeled = set(self._current_labels(con))
            members = None
            if subset is not None:
                if not con.execute("SELECT 1 FROM subsets WHERE name=?", (subset,)).fetchone():
                    raise UserError(f"no subset {subset!r} (defined: {sorted(self.subsets())})")
                members = {int(i) for (i,) in con.execute("SELECT item FROM subsets WHERE name=?", (subset,))}
            seq = (con.execute("SELECT MAX(seq) FROM selections").fetchone()[0] or 0) + 1
        if (n is None) == (total is None) and not (n is None and total is None):
            raise UserError("give n (how many to pick) or total (the labeled set's new size), not both")
        if total is not None:
            n = int(total) - len(labeled)
            if n <= 0:
                raise UserError(f"total={total}: the labeled set already has {len(labeled)} image(s)")
        n = int(settings.get("batch_size", 20) if n is None else n)
        is_lab = np.array([int(i) in labeled for i in f.ids])
        cand = ~is_lab if members is None else ~is_lab & np.array([int(i) in members for i in f.ids])
        if int(cand.sum()) == 0:
            raise UserError("no unlabeled image left to pick" + (f" in subset {subset!r}" if subset else ""))
        n = min(n, int(cand.sum()))
        info = self.model_info()
        model = self.model()
        head = model.head() if model is not None else None
        progress(f"picking {n} image(s) with {strategy}", None)
        qseed = project_seed * 1_000_003 + seq if seed is None else seed
        if segmentation_model is not None:
            sel = self._segmentation_pick(segmentation_model, dict(segmentation or {}), f, n, strategy, is_lab, cand,
                                          qseed, params)
            strategy = sel.strategy
        else:
            sel = select(f.keys, f.x, n, strategy, labeled=is_lab, rng=qseed, candidates=cand, model=head, **params)
        used = {**sel.params}
        created = _now()
        with self._tx() as con:
            if name is None:  # numbered in the writing transaction: two queries at once get two numbers
                name = f"query-{(con.execute('SELECT MAX(seq) FROM selections').fetchone()[0] or 0) + 1}"
            if con.execute("SELECT 1 FROM selections WHERE name=?", (name,)).fetchone():
                raise UserError(f"a selection named {name!r} exists; choose another name")
            lab_now = set(self._current_labels(con))
            if lab_now & {int(i) for i in f.ids[sel.positions]}:  # labeled meanwhile by another writer
                raise UserError("images were labeled while the query ran; query again")
            s = con.execute("INSERT INTO selections(name, strategy, params, subset, created, n_labeled, model_round) "
                            "VALUES(?,?,?,?,?,?,?)", (name, strategy, json.dumps(used, default=str), subset, created,
                                                      len(labeled), info["round"] if info and head else None)).lastrowid
            row_ids = f.ids[sel.positions]
            con.executemany("INSERT INTO selection_items VALUES(?,?,?,?)",
                            [(s, r, int(i), None if not np.isfinite(sc) else float(sc))
                             for r, (i, sc) in enumerate(zip(row_ids, sel.scores), start=1)])
        return NamedSelection(name, strategy, used, created, sel.ids, tuple(float(v) for v in sel.scores), subset,
                              len(labeled), info["round"] if info and head else None)

    def _segmentation_pick(self, model: Any, options: dict[str, Any], f: _Features, n: int, strategy: str,
                           is_lab: np.ndarray, cand: np.ndarray, seed: int, params: dict[str, Any]):
        """A segmentation recipe on the project's images (see :meth:`query`)."""
        from dataclasses import replace

        from ..data.images import ImageFiles
        from ..segmentation.provider import load_segmentation_model
        from ..segmentation.select import select_with_model

        load_keys = ("arch", "num_classes", "device", "hook_layer")
        source = str(model) if isinstance(model, (str, Path)) else getattr(model, "name", type(model).__name__)
        unknown = set(options) - set(load_keys) - {"provider", "reduce", "topk_fraction", "mc_samples", "image_size",
                                                   "batch_size"}
        if unknown:
            raise UserError(f"segmentation options are arch, num_classes, device, hook_layer, provider, reduce, "
                            f"topk_fraction, mc_samples, image_size, batch_size; not {sorted(unknown)}")
        if isinstance(model, (str, Path)):
            model = load_segmentation_model(model, **{k: options.pop(k) for k in load_keys if k in options})
        sel, _ = select_with_model(model, ImageFiles(Path("/"), f.keys), n, strategy, labeled=is_lab, candidates=cand,
                                   features=f.x, seed=seed, cache_dir=self.folder / CACHE, progress=False,
                                   provider_options=options, **params)
        return replace(sel, params={**sel.params, "segmentation_model": source})

    def next_batch(self, progress: Progress = _quiet) -> NamedSelection | None:
        """The app's next batch: nothing while the last selection has unlabeled images; else the
        images labeled before their file changed (at most the batch size, named ``changed-<k>``,
        strategy ``changed``: they wait for a new label); else the project's strategy with the
        current model (before any model, the initial strategy), the batch size, named
        ``batch-<k>``. None when every image is labeled."""
        self.check_files()
        last = self.last_selection()
        if last is not None:
            lab = self.labels
            if any(k not in lab for k in last.ids):
                return None
        if not self.unlabeled_set:
            return None
        from ..strategies import needs_model

        s = self.settings
        strategy = s["strategy"]
        if self.model() is None and needs_model(strategy):
            strategy = s.get("initial_strategy", INITIAL_STRATEGY)
        if self.changed_labels():
            sel = self._changed_batch(int(s.get("batch_size", 20)))
            if sel is not None:
                return sel
        k = len([x for x in self.selections() if x.name.startswith("batch-")]) + 1
        name = f"batch-{k}"
        while name in {x.name for x in self.selections()}:
            k += 1
            name = f"batch-{k}"
        self._local.files_checked = True  # just checked above: the query need not stat them again
        try:
            return self.query(strategy, s.get("batch_size", 20), name=name, progress=progress)
        finally:
            self._local.files_checked = False

    def _changed_batch(self, n: int) -> NamedSelection | None:
        """A selection of at most ``n`` images labeled before their file changed (id order),
        ``changed-<k>``, so the app shows them to be labeled again; None when there are none."""
        with self._tx() as con:
            items = [i for (i,) in con.execute(f"SELECT l.item FROM labels l JOIN items i ON i.id = l.item "
                                               f"WHERE NOT {CURRENT_LABEL} ORDER BY l.item LIMIT ?", (n,))]
            if not items:
                return None
            names = {r[0] for r in con.execute("SELECT name FROM selections")}
            k = len([x for x in names if x.startswith("changed-")]) + 1
            while f"changed-{k}" in names:
                k += 1
            name = f"changed-{k}"
            why = "the image files changed after they were labeled; label them again"
            s = con.execute("INSERT INTO selections(name, strategy, params, subset, created, n_labeled, model_round) "
                            "VALUES(?,?,?,?,?,?,?)", (name, CHANGED_STRATEGY, json.dumps({"reason": why}), None, _now(),
                                                      len(self._current_labels(con)), None)).lastrowid
            con.executemany("INSERT INTO selection_items VALUES(?,?,?,?)",
                            [(s, r, i, None) for r, i in enumerate(items, start=1)])
            return self._selection(con, s, con.execute("SELECT * FROM selections WHERE seq=?", (s,)).fetchone())

    def _selection(self, con, seq: int, row) -> NamedSelection:
        keys = self._keys(con)
        items = con.execute("SELECT item, score FROM selection_items WHERE selection=? ORDER BY rank", (seq,)).fetchall()
        _, name, strategy, params, subset, created, n_lab, mround = row
        return NamedSelection(name, strategy, json.loads(params), created, tuple(keys[i] for i, _ in items),
                              tuple(float("nan") if s is None else s for _, s in items), subset, n_lab, mround)

    def _last_selection(self, con) -> NamedSelection | None:
        row = con.execute("SELECT * FROM selections ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else self._selection(con, row[0], row)

    def last_selection(self) -> NamedSelection | None:
        with self._read() as con:
            return self._last_selection(con)

    def selections(self) -> list[NamedSelection]:
        with self._read() as con:
            return [self._selection(con, r[0], r) for r in con.execute("SELECT * FROM selections ORDER BY seq").fetchall()]

    def selection(self, name: str) -> NamedSelection:
        with self._read() as con:
            row = con.execute("SELECT * FROM selections WHERE name=?", (name,)).fetchone()
            if row is None:
                raise UserError(f"no selection named {name!r}")
            return self._selection(con, row[0], row)

    # -- checkpoints ---------------------------------------------------------------------------
    def _snapshot(self) -> str:
        """A consistent copy of the database (``VACUUM INTO``, on its own connection: it reads
        the last committed state, so a caller holding the write lock gets exactly its state),
        written under a temporary name, synced and renamed into ``checkpoints/``; its file name."""
        d = self.folder / CHECKPOINTS
        d.mkdir(exist_ok=True)
        file = f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.sqlite"
        tmp = d / f".tmp-{file}"
        try:
            with closing(self._connect()) as con:
                con.execute("VACUUM INTO ?", (str(tmp),))
            _fsync(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk: no partial file left behind
            raise
        os.replace(tmp, d / file)
        _fsync(d)
        return file

    def _checkpoint_in(self, con, name: str) -> dict[str, Any]:
        """Checkpoint ``name`` of the state ``con`` holds the write lock on (labels cannot
        change between the copy and its listing); a name in use fails before any copy."""
        if con.execute("SELECT 1 FROM checkpoints WHERE name=?", (name,)).fetchone():
            raise UserError(f"a checkpoint named {name!r} exists; choose another name")
        n_lab = len(self._current_labels(con))
        file = self._snapshot()
        con.execute("INSERT INTO checkpoints VALUES(?,?,?,?)", (name, file, _now(), n_lab))
        return {"name": name, "file": str(self.folder / CHECKPOINTS / file), "n_labeled": n_lab}

    def checkpoint(self, name: str) -> dict[str, Any]:
        """Save the labels, selections, subsets, models and settings as checkpoint ``name``: a
        consistent copy of the database, listed in the same transaction that held every writer
        off while it was taken. A name in use fails (nothing is overwritten); a file a killed
        process left unlisted is removed when the project is next opened."""
        name = check_name(name, "checkpoint name")
        with self._tx() as con:
            return self._checkpoint_in(con, name)

    def checkpoints(self) -> list[dict[str, Any]]:
        with self._read() as con:
            return [{"name": n, "created": c, "n_labeled": k} for n, c, k in
                    con.execute("SELECT name, created, n_labeled FROM checkpoints ORDER BY created")]

    def restore(self, name: str, keep_current: bool = True) -> dict[str, Any]:
        """Return to checkpoint ``name``: labels, selections, subsets, models and settings as
        they were. Images added since stay (unlabeled). With ``keep_current`` the state being
        left is saved as checkpoint ``before restoring <name> (<time>)`` in the same
        transaction as the restore, so no label acknowledged in between is lost."""
        with self._read() as con:
            row = con.execute("SELECT file FROM checkpoints WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UserError(f"no checkpoint named {name!r}")
        path = self.folder / CHECKPOINTS / row[0]
        what = f"checkpoint {name!r}"
        if not path.is_file():
            raise UserError(f"its file {path} is missing", key=what)
        self._check_checkpoint_file(path, what)
        damaged = f"its file {path.name} is damaged; nothing was restored, the labels are as they were"
        with closing(self._connect()) as con:
            try:
                con.execute("ATTACH DATABASE ? AS c", (str(path),))  # not allowed inside a transaction
            except sqlite3.DatabaseError:
                raise UserError(damaged, key=what) from None
            con.execute("BEGIN IMMEDIATE")
            try:
                schema = con.execute("SELECT value FROM c.meta WHERE key='schema'").fetchone()
                if schema is None or int(schema[0]) != SCHEMA_VERSION:
                    raise UserError(f"was written with another project schema ({schema})", key=what)
                saved = None
                if keep_current:
                    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
                    saved = self._checkpoint_in(con, f"before restoring {name[:40]} ({stamp}.{uuid.uuid4().hex[:4]})")
                for t in STATE_TABLES:
                    con.execute(f"DELETE FROM main.{t}")
                    con.execute(f"INSERT INTO main.{t} SELECT * FROM c.{t}")
                for k in RESTORED_META:
                    v = con.execute("SELECT value FROM c.meta WHERE key=?", (k,)).fetchone()
                    if v is not None:
                        con.execute("INSERT OR REPLACE INTO main.meta VALUES(?,?)", (k, v[0]))
                _bump(con)
                con.execute("COMMIT")
            except BaseException as exc:
                con.execute("ROLLBACK")
                # damage the check above missed (it read the file a moment before); an
                # OperationalError (a full disk, a lock) is about this project's database
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                    raise UserError(damaged, key=what) from None
                raise
            finally:
                con.execute("DETACH DATABASE c")
        self._features = None
        return {"name": name, "n_labeled": len(self.labels), "saved_as": saved and saved["name"]}

    def _check_checkpoint_file(self, path: Path, what: str) -> None:
        """Refuse, before anything is written, a checkpoint file that is no intact project
        database with the tables a restore copies (a damaged or foreign file)."""
        damaged = f"its file {path.name} is damaged or not a checkpoint ({{}}); nothing was restored, the labels " \
                  "are as they were"
        try:
            with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as c, closing(self._connect()) as main:
                check = c.execute("PRAGMA quick_check").fetchall()
                if check != [("ok",)]:
                    raise UserError(damaged.format("integrity check failed"), key=what)
                for t in (*STATE_TABLES, "meta"):
                    cols = [r[1] for r in c.execute(f"PRAGMA table_info({t})")]
                    if cols != [r[1] for r in main.execute(f"PRAGMA table_info({t})")]:
                        raise UserError(damaged.format(f"table {t} is missing or has other columns"), key=what)
        except sqlite3.DatabaseError as exc:
            raise UserError(damaged.format(f"{type(exc).__name__}: {exc}"), key=what) from None

    # -- exports -------------------------------------------------------------------------------
    def _record_export(self, kind: str, path: Path) -> dict[str, Any]:
        with self._tx() as con:
            name = path.name
            con.execute("INSERT OR REPLACE INTO exports(name, kind, path, created) VALUES(?,?,?,?)",
                        (name, kind, str(path), _now()))
        return {"name": name, "kind": kind, "path": str(path)}

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

    # -- the whole state, for the app ----------------------------------------------------------
    def version(self) -> int:
        """A number that grows with every committed change (any process)."""
        with self._read() as con:
            row = con.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return 0 if row is None else int(row[0])


def _bump(con) -> None:
    con.execute("INSERT INTO meta VALUES('version', '1') ON CONFLICT(key) DO UPDATE SET "
                "value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")


def _read_csv_file(path: Path, what: str) -> str:
    """The text of the CSV file at ``path``: a regular file (a device or FIFO would be read for
    ever) of at most ``MAX_CSV_BYTES``, UTF-8 (a BOM dropped). Errors never quote its content."""
    try:
        # non-blocking open: a FIFO is refused by the check below instead of waited on
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise UserError("is not a regular file (give the path of a CSV file)", key=what)
            raw = fh.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read it ({exc.strerror or exc})", key=what) from None
    if len(raw) > MAX_CSV_BYTES:
        raise UserError(f"is larger than {MAX_CSV_BYTES // 2**20} MB; a list of images is far smaller", key=what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("is not UTF-8 text (a CSV of image paths was expected)", key=what) from None


def _parse_csv(text: str, what: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line number, column → cell)]) of a CSV of images; blank lines skipped. A header
    naming no image-path column means the file is not such a CSV: the error then quotes none of
    it (it may be any file a path was typed to). A row with more non-empty cells than the header
    is refused, by line number."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _check_header([c.strip() for c in cells], reader.line_num, what)
                continue
            if any(c.strip() for c in cells[len(header):]):
                raise UserError(f"line {reader.line_num}: {len(cells)} cells, the header has {len(header)} "
                                "(a cell holding a comma needs quotes)", key=what)
            records.append((reader.line_num, {h: (cells[k].strip() if k < len(cells) else "")
                                              for k, h in enumerate(header)}))
    except csv.Error as exc:  # its messages name the problem, not the text
        raise UserError(f"line {reader.line_num}: not readable as CSV ({exc})", key=what) from None
    if header is None:
        raise UserError("is empty; its first line names the columns, e.g. path,label", key=what)
    return header, records


def _check_header(header: list[str], line: int, what: str) -> list[str]:
    """``header`` if it has one image-path column, optionally ``label``, nothing else."""
    cols = " or ".join(CSV_PATH_COLUMNS)
    path_cols = [c for c in header if c.lower() in CSV_PATH_COLUMNS]
    if not path_cols:  # no CSV of images: its first line is not repeated (it may be any file's)
        raise UserError(f"line {line}: no image-path column ({cols}); the first line of a CSV of images names "
                        "its columns, e.g. path,label", key=what)
    unknown = [c for c in header if c.lower() not in CSV_PATH_COLUMNS + CSV_LABEL_COLUMNS]
    repeated = sorted({c for c in header if [h.lower() for h in header].count(c.lower()) > 1})
    if len(path_cols) != 1 or unknown or repeated:
        raise UserError(f"line {line}: needs one image-path column ({cols}) and optionally 'label'; has {header}"
                        + (f" (unknown: {unknown})" if unknown else "")
                        + (f" (repeated: {repeated})" if repeated else ""), key=what)
    return header


def _refuse_existing(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise UserError("exists already; nothing was overwritten (choose another name or folder)", key=str(path))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
