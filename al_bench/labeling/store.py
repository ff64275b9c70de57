"""Where a labeling project is kept: one SQLite database (``project.sqlite``) in the project
folder — its schema, connections, transactions, the ``meta`` table (settings, version) and the
reads every room shares (item keys, current labels).

Durability: every change is one SQLite transaction (WAL journal, ``synchronous=FULL``), so a
label is on disk when :meth:`~al_bench.labeling.LabelingProject.add_labels` returns and a killed
process loses nothing that was acknowledged; several processes or threads may write at once
(SQLite's locking, with a busy timeout). Checkpoints and exports are written to a temporary name
and renamed into place.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from ..errors import UserError

if TYPE_CHECKING:
    from .training import FeatureTable

__all__ = ["DB_FILE", "SCHEMA_VERSION", "SCHEMA", "ITEM_COLUMNS", "CURRENT_LABEL", "UPLOADS", "CHECKPOINTS",
           "EXPORTS", "CACHE", "STALE_TMP_SECONDS", "Progress", "ProjectStore", "now_utc", "quiet", "bump_version"]

DB_FILE = "project.sqlite"
SCHEMA_VERSION = 1
# folders next to the database
UPLOADS = "uploads"
CHECKPOINTS = "checkpoints"
EXPORTS = "exports"
CACHE = "cache"
STALE_TMP_SECONDS = 600
# columns added to items after schema 1 (older projects get them on open): the file as last
# checked (size, mtime, SHA-256 of its bytes), how often its content changed, and when last
ITEM_COLUMNS = (("sha256", "TEXT"), ("checked_size", "INTEGER"), ("checked_mtime_ns", "INTEGER"),
                ("revision", "INTEGER NOT NULL DEFAULT 0"), ("changed_at", "TEXT"))
# a label is current unless the file changed after it was given (see al_bench.labeling.items)
CURRENT_LABEL = "(i.changed_at IS NULL OR l.at >= i.changed_at)"

SCHEMA = """
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
-- the audit: images of a batch's uniform share (al_bench.labeling.estimate); a fit's estimate from them
CREATE TABLE IF NOT EXISTS audit(item INTEGER PRIMARY KEY, selection TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS estimates(round INTEGER PRIMARY KEY, body TEXT NOT NULL);
-- each fitted round's predicted classes on the stop set (al_bench.labeling.stopping)
CREATE TABLE IF NOT EXISTS stop_predictions(round INTEGER PRIMARY KEY, body TEXT NOT NULL);
"""

Progress = Callable[[str, float | None], None]


def now_utc() -> str:
    """The time of a change as stored (UTC, ISO 8601 with milliseconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def quiet(msg: str, frac: float | None = None) -> None:
    """The progress callback that says nothing."""


def bump_version(con) -> None:
    """Count one committed change in ``meta.version`` (inside the writing transaction)."""
    con.execute("INSERT INTO meta VALUES('version', '1') ON CONFLICT(key) DO UPDATE SET "
                "value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")


class ProjectStore:
    """The database of a project in ``folder`` and the state one process keeps of it; the base
    every room of :class:`~al_bench.labeling.LabelingProject` builds on."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.db_path = self.folder / DB_FILE
        self._features: FeatureTable | None = None  # training's embedding; rooms that change images drop it
        self._anchor: sqlite3.Connection | None = None
        self._model_cache: tuple[int, Any] | None = None  # (round, parsed model): predictions are asked per image
        self._features_lock = threading.Lock()  # threads of one server share one embedding
        self._local = threading.local()  # per thread: files_checked while next_batch runs a query

    def _open_database(self) -> None:
        """Create or upgrade the schema (additive only) and keep an anchor connection open."""
        # kept open while the object lives: the WAL and its index then stay on disk, so reads
        # (the page's state) still work on a full disk, where recreating them would fail
        self._anchor = self._connect()
        self._anchor.execute("PRAGMA journal_mode=WAL")  # persistent in the database file
        with closing(self._connect()) as con:
            con.executescript(SCHEMA)  # idempotent; executescript commits on its own
        with self._tx() as con:
            row = con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
                con.execute("INSERT INTO meta VALUES('created', ?)", (now_utc(),))
                con.execute("INSERT INTO meta VALUES('project_id', ?)", (uuid.uuid4().hex,))
            elif int(row[0]) > SCHEMA_VERSION:
                raise UserError(f"was written by a newer al_bench (schema {row[0]})", key=str(self.db_path))
            have = {r[1] for r in con.execute("PRAGMA table_info(items)")}
            for col, decl in ITEM_COLUMNS:  # additive: older al_bench versions still read the project
                if col not in have:
                    con.execute(f"ALTER TABLE items ADD COLUMN {col} {decl}")

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
            bump_version(con)
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

    def version(self) -> int:
        """A number that grows with every committed change (any process)."""
        with self._read() as con:
            row = con.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return 0 if row is None else int(row[0])

    # -- reads every room shares ---------------------------------------------------------------
    def _keys(self, con) -> dict[int, str]:
        return dict(con.execute("SELECT id, key FROM items ORDER BY id"))

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

    def _current_labels(self, con) -> dict[int, str]:
        """item id → label, of the labels given to the image's current content (a label given
        before the file changed is not one: see al_bench.labeling.items)."""
        return dict(con.execute(f"SELECT l.item, l.label FROM labels l JOIN items i ON i.id = l.item "
                                f"WHERE {CURRENT_LABEL} ORDER BY l.item"))

