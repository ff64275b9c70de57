"""Where a labeling project's images come from: a folder (scanned recursively), a CSV of paths
with optional labels (a file on this machine or uploaded text), uploaded files; the sources and
the problems found in them (unreadable images, bad rows), each listed once."""

from __future__ import annotations

import csv
import io
import os
import stat
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.images import IMAGE_EXTENSIONS, inspect_image
from ..errors import UserError
from .checks import check_name, safe_file_name, user_path
from .store import CACHE, UPLOADS, Progress, ProjectStore, now_utc, quiet

__all__ = ["AddReport", "SourcesMixin", "CSV_PATH_COLUMNS", "CSV_LABEL_COLUMNS", "MAX_CSV_BYTES"]

CSV_PATH_COLUMNS = ("path", "image", "file", "filename")
CSV_LABEL_COLUMNS = ("label",)
MAX_CSV_BYTES = 256 * 2**20  # a path typed by mistake (a disk image, /dev/zero) is refused, never read whole


@dataclass(frozen=True)
class AddReport:
    added: int
    labeled: int
    skipped: tuple[tuple[str, str], ...]  # (name, reason)
    already: int = 0  # items the project had already

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "labeled": self.labeled, "already": self.already,
                "skipped": [{"name": n, "reason": r} for n, r in self.skipped]}


class SourcesMixin(ProjectStore):
    """Adding images: :meth:`add_folder`, :meth:`add_csv`, :meth:`add_upload`; :meth:`sources`,
    :meth:`problems`. Uses the items room's :meth:`check_files` on what was added and the
    labels room's ``_write_labels`` for a CSV's labels."""

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
        return con.execute("INSERT INTO sources(kind, path, added) VALUES(?,?,?)", (kind, path, now_utc())).lastrowid

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

    def add_folder(self, folder: str | Path, follow_links: bool = False, progress: Progress = quiet) -> AddReport:
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
        self.check_files(ids=added, new=added)  # the others were checked above, before the labels were read
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

    def problems(self) -> list[tuple[str, str]]:
        with self._read() as con:
            return [tuple(r) for r in con.execute("SELECT name, reason FROM problems ORDER BY id")]

    def sources(self) -> list[dict[str, Any]]:
        with self._read() as con:
            return [{"kind": k, "path": p, "n_items": n} for k, p, n in con.execute(
                "SELECT s.kind, s.path, COUNT(i.id) FROM sources s LEFT JOIN items i ON i.source = s.id "
                "GROUP BY s.id ORDER BY s.id")]


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

