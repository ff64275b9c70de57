"""Named checkpoints of a labeling project and restoring one: a consistent copy of the
database (``VACUUM INTO``) under ``checkpoints/``, taken and listed while every writer waits."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from ..errors import UserError
from .checks import check_name
from .store import CHECKPOINTS, SCHEMA_VERSION, ProjectStore, bump_version, now_utc

__all__ = ["STATE_TABLES", "RESTORED_META", "SnapshotsMixin"]

# what a checkpoint restores (sources and items stay: images are never removed from a project)
STATE_TABLES = ("labels", "label_log", "selections", "selection_items", "subsets", "models")
RESTORED_META = ("settings",)


class SnapshotsMixin(ProjectStore):
    """:meth:`checkpoint`, :meth:`checkpoints`, :meth:`restore` (which reports the labels room's count
    of :attr:`labels` after it)."""

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
        con.execute("INSERT INTO checkpoints VALUES(?,?,?,?)", (name, file, now_utc(), n_lab))
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
                bump_version(con)
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
