"""The labels of a labeling project: the labeled and unlabeled sets, labeling, relabeling and
undo (every change logged in ``label_log``), and the counts per class."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..errors import UserError
from .store import CURRENT_LABEL, ProjectStore, now_utc

__all__ = ["LabelsMixin"]


class LabelsMixin(ProjectStore):
    """:attr:`labels`, :attr:`labeled_set`, :attr:`unlabeled_set`, :meth:`changed_labels`,
    :meth:`add_labels`, :meth:`remove_label`, :meth:`undo_last`, :meth:`per_class`. Uses the
    items room's :meth:`check_files` (a label goes to the content there now) and the queries
    room's last selection (a label is tagged with the batch it answers)."""

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

    def _write_labels(self, con, labels: Mapping[str, str], selection_of: Mapping[str, str] | None = None) -> int:
        """Write key → label, each tagged with ``selection_of[key]`` (the batch it answers) or none."""
        by_key = {k: i for i, k in self._keys(con).items()}
        now = now_utc()
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
            con.execute("INSERT INTO label_log(item, label, previous, at) VALUES(?,?,?,?)", (item, None, prev[0], now_utc()))
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
                    con.execute("UPDATE labels SET label=?, at=? WHERE item=?", (prev, given[0] if given else now_utc(), item))
                con.execute("INSERT INTO label_log(item, label, previous, at, undoes) VALUES(?,?,?,?,?)",
                            (item, prev, label, now_utc(), seq))
                return keys[item]
        return None

    def per_class(self) -> dict[str, int]:
        counts = {c: 0 for c in self.classes}
        with self._read() as con:
            for lab in self._current_labels(con).values():
                counts[lab] = counts.get(lab, 0) + 1
        return counts

