"""The images a labeling project holds: lookups and views by key or integer id, named subsets
that queries may be restricted to, and the checks for image files that changed on disk.

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
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import inspect_image
from .checks import check_name
from .store import CURRENT_LABEL, ProjectStore, now_utc

__all__ = ["HASH_CHUNK", "ItemsMixin"]

HASH_CHUNK = 2**20


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


class ItemsMixin(ProjectStore):
    """The images: :attr:`items`, :meth:`item`, :meth:`items_info`, :meth:`image_file`, subsets,
    and :meth:`check_files` (which drops the embedding of changed images)."""

    # -- lookups and views ---------------------------------------------------------------------
    @property
    def items(self) -> list[str]:
        """Every image's key (absolute path), in the order they were added."""
        with self._read() as con:
            return list(self._keys(con).values())

    def item_ids(self, keys: Iterable[str | int]) -> list[int]:
        """Integer ids of items given by key (absolute path), name or integer id; unknown ones fail."""
        with self._read() as con:
            return self._resolve(con, keys)

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

    # -- images that changed on disk -----------------------------------------------------------
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
        at = now_utc()
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
