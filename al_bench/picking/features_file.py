"""Bring your own embeddings: ids and vectors from a file a pipeline already wrote.

Formats (the suffix decides):

- ``.npy``: an (N, d) array; its ids come from an ids file (one id per line, or a CSV with an
  ``id`` column) or, beside a folder, the folder's sorted order (``al-bench-select --list-ids``).
  Memory-mapped: nothing is read until a strategy reads rows.
- ``.npz``: arrays ``ids`` (N,) and ``features`` (N, d). Memory-mapped when ``features`` is
  stored uncompressed (``numpy.savez``); read whole in its own dtype when compressed
  (``numpy.savez_compressed``), since a deflated member cannot be mapped.
- ``.parquet``: an ``id`` column and one vector column (``features``, or the only other
  column): a fixed-size list or a list whose rows all have d values. Read with pyarrow (the
  engine pandas writes Parquet with) row group by row group into one array of the column's own
  float type; Parquet pages are encoded, so they cannot be mapped.

Vectors stay float16 or float32 as stored (float64 too); nothing here copies them to float32:
strategies read rows in blocks (:mod:`al_bench.picking.api`). Integer or non-finite vectors and
repeated or empty ids are refused in one line naming how many and the first few.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError

__all__ = ["FeatureFile", "file_stamp", "read_features", "read_ids_file", "match_ids", "FORMATS"]

FORMATS = (".npy", ".npz", ".parquet")
_FLOATS = (np.float16, np.float32, np.float64)
_FINITE_BLOCK = 1 << 16  # rows per block of the finiteness check


@dataclass(frozen=True)
class FeatureFile:
    """Ids and their vectors as read from ``path`` (``vectors`` memory-mapped where possible)."""

    path: Path
    ids: list[str]
    vectors: np.ndarray  # (N, d) float16 / float32 / float64, a memmap for .npy and stored .npz
    mapped: bool  # whether the vectors are a memory map of the file
    stamp: str  # size and modification time of the file(s) when read: what the hand-off records
    _stamped: tuple[Path, ...] = ()  # the files the stamp covers

    def check_unchanged(self) -> None:
        """Fail when the file (or its ids file) changed since it was read: the picks would mix two
        versions; nothing is written."""
        now = file_stamp(*self._stamped)
        if now != self.stamp:
            raise UserError("changed while it was being read (size or modification time); run again on the file as "
                            "it is now; nothing was written", key=f"--features {self.path}")

    @property
    def source(self) -> dict:
        """What selection.yaml records of the file."""
        return {"features": str(self.path), "rows": len(self.ids), "dim": int(self.vectors.shape[1]),
                "dtype": str(self.vectors.dtype), "file_stamp": self.stamp}


def file_stamp(*paths: Path) -> str:
    """A short hash of the files' paths, sizes and modification times: changes when one is rewritten."""
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def read_ids_file(path: Path, what: str = "--feature-ids") -> list[str]:
    """Ids from a text file (one per line) or a CSV with an ``id`` column (``.csv``)."""
    key = f"{what} {path}"
    try:
        if path.suffix.lower() == ".csv":
            import pandas as pd

            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            if "id" not in df.columns:
                raise UserError(f"needs an 'id' column; has {list(df.columns)}", key=key)
            return df["id"].tolist()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"cannot read ({type(exc).__name__}: {exc})", key=key) from None
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _npz_member(path: Path, name: str) -> np.ndarray | None:
    """Array ``name`` of an .npz memory-mapped when it is stored uncompressed, else None."""
    with zipfile.ZipFile(path) as z:
        try:
            info = z.getinfo(name + ".npy")
        except KeyError:
            return None
        if info.compress_type != zipfile.ZIP_STORED:
            return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            return None
        start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
        f.seek(start)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
        offset = f.tell()
    if dtype.hasobject or fortran:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))


def _read_npz(path: Path, key: str) -> tuple[list[str], np.ndarray, bool]:
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.keys())
            if "ids" not in names or "features" not in names:
                raise UserError(f"an .npz needs arrays 'ids' (N,) and 'features' (N, d); has {names}", key=key)
            ids = z["ids"]
            mapped = _npz_member(path, "features")
            x = mapped if mapped is not None else z["features"]
    except ValueError as exc:  # ids saved as an object array
        if isinstance(exc, UserError):
            raise
        raise UserError(f"cannot read it ({exc}); save ids as strings (np.array(ids, dtype=str))", key=key) from None
    return [str(s) for s in ids.tolist()], x, mapped is not None


def _read_parquet(path: Path, key: str, column: str | None) -> tuple[list[str], np.ndarray]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError('reading Parquet needs pyarrow: pip install "al_bench[parquet]"', key=key) from None
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"cannot read it as Parquet ({exc})", key=key) from None
    schema = pf.schema_arrow
    names = [n for n in schema.names if not n.startswith("__index_level_")]  # pandas' index columns
    if "id" not in names:
        raise UserError(f"needs an 'id' column and a vector column; has {names}", key=key)
    rest = [n for n in names if n != "id"]
    col = column or ("features" if "features" in rest else rest[0] if len(rest) == 1 else None)
    if column is not None and column not in rest:
        raise UserError(f"no vector column {column!r}; its columns beside 'id': {', '.join(rest) or 'none'}", key=key)
    if col is None:
        raise UserError(f"name the vector column ({', '.join(rest) or 'none'}): a column 'features', or one other "
                        "column beside 'id'", key=key)
    typ = schema.field(col).type
    if not (pa.types.is_fixed_size_list(typ) or pa.types.is_list(typ) or pa.types.is_large_list(typ)) \
            or not pa.types.is_floating(typ.value_type):
        raise UserError(f"column {col!r} is {typ}; it must hold one list of floats per row (float16/32/64)", key=key)
    dtype = np.dtype(typ.value_type.to_pandas_dtype())
    n = pf.metadata.num_rows
    ids: list[str] = []
    x = None
    row = 0
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i, columns=["id", col])
        v = t.column(col).combine_chunks()
        if v.null_count:
            raise UserError(f"column {col!r} has {v.null_count} missing vector(s) in row group {i}", key=key)
        if pa.types.is_fixed_size_list(typ):
            d = typ.list_size
        else:
            lengths = np.diff(np.asarray(v.offsets))
            if lengths.size and (lengths != lengths[0]).any():
                bad = int((lengths != lengths[0]).sum())
                raise UserError(f"column {col!r}: vectors of different lengths ({bad} row(s) in row group {i} differ "
                                f"from {int(lengths[0])})", key=key)
            d = int(lengths[0]) if lengths.size else (x.shape[1] if x is not None else 0)
        vals = np.asarray(v.flatten()).astype(dtype, copy=False).reshape(len(t), d)
        if x is None:
            x = np.empty((n, d), dtype)
        elif d != x.shape[1]:
            raise UserError(f"column {col!r}: row group {i} has vectors of {d} values, earlier ones {x.shape[1]}",
                            key=key)
        x[row : row + len(t)] = vals
        row += len(t)
        ids.extend(str(s) for s in t.column("id").to_pylist())
    if x is None:
        x = np.empty((0, 0), np.float32)
    return ids, x


def read_features(path: str | Path, ids: Sequence[str] | str | Path | None = None, *, column: str | None = None,
                  what: str = "--features", ids_what: str = "--feature-ids") -> FeatureFile:
    """Ids and (N, d) vectors from ``path`` (see the module docstring); ``ids``: the ids of an
    .npy's rows (a sequence, or a file as :func:`read_ids_file` reads it); ``column``: a Parquet
    file's vector column. Errors are :class:`UserError` keyed by ``what``."""
    from .inputs import check_numpy_file

    path = Path(path).expanduser().absolute()
    key = f"{what} {path}"
    if not path.is_file():
        raise UserError(f"no such file: {path}", key=what)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"use {', '.join(FORMATS)}", key=key)
    check_numpy_file(path, key)
    stamped = [path]
    mapped = False
    try:
        if suffix == ".npy":
            x = np.load(path, mmap_mode="r", allow_pickle=False)
            mapped = isinstance(x, np.memmap)
            if ids is None:
                raise UserError(f"an .npy holds no ids: give them ({ids_what} FILE, one per line), or the images "
                                "folder whose sorted file order (--list-ids) the rows follow", key=key)
            if isinstance(ids, (str, Path)):
                stamped.append(Path(ids).expanduser().absolute())
                ids = read_ids_file(Path(ids).expanduser(), ids_what)
            names = [str(s) for s in ids]
        elif suffix == ".npz":
            if ids is not None:
                raise UserError(f"an .npz carries its own ids (array 'ids'); drop {ids_what}", key=key)
            names, x, mapped = _read_npz(path, key)
        else:
            if ids is not None:
                raise UserError(f"a Parquet file carries its own ids (column 'id'); drop {ids_what}", key=key)
            names, x = _read_parquet(path, key, column)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"cannot read it ({type(exc).__name__}: {exc})", key=key) from None
    if column is not None and suffix != ".parquet":
        raise UserError("a vector column is named only for a Parquet file", key=key)
    if x.ndim != 2 or x.shape[1] < 1:
        raise UserError(f"vectors must be (N, d) with d >= 1, got shape {x.shape}", key=key)
    if x.dtype.type not in _FLOATS:
        raise UserError(f"vectors must be floats (float16, float32 or float64), got {x.dtype}", key=key)
    if len(names) != len(x):
        raise UserError(f"{len(names)} id(s) for {len(x)} vector(s)", key=key)
    _check_ids(names, key)
    _check_finite(names, x, key)
    return FeatureFile(path, names, x, mapped, file_stamp(*stamped), tuple(stamped))


def _check_ids(names: list[str], key: str) -> None:
    empty = sum(1 for s in names if not s.strip())
    if empty:
        raise UserError(f"{empty} empty id(s)", key=key)
    if len(set(names)) != len(names):
        from collections import Counter

        dup = [s for s, c in Counter(names).items() if c > 1]
        raise UserError(f"{len(dup)} repeated id(s): {', '.join(sorted(dup)[:5])}", key=key)


def _check_finite(names: list[str], x: np.ndarray, key: str) -> None:
    """Every vector finite, checked by blocks (a mapped file is read once, never copied whole)."""
    bad: list[int] = []
    n_bad = 0
    for lo in range(0, len(x), _FINITE_BLOCK):
        block = np.asarray(x[lo : lo + _FINITE_BLOCK])
        rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
        n_bad += rows.size
        bad.extend((rows[: 5 - len(bad)] + lo).tolist() if len(bad) < 5 else [])
    if n_bad:
        raise UserError(f"{n_bad} vector(s) hold NaN or infinity (first: {', '.join(names[i] for i in bad)})", key=key)


def match_ids(file_ids: Sequence[str], good: Sequence[str], found: Sequence[str], key: str, folder: Path) -> None:
    """The file's ids must be the folder's image files: every readable image (``good``) needs a
    vector, and every vector an image file (``found``: readable or not; an unreadable file's
    vector is never read)."""
    have, files = set(file_ids), set(found)
    extra = [s for s in file_ids if s not in files]
    missing = [s for s in good if s not in have]
    if extra or missing:
        parts = []
        if missing:
            parts.append(f"{len(missing)} image file(s) under {folder} have no vector (first: {', '.join(missing[:3])})")
        if extra:
            parts.append(f"{len(extra)} id(s) are not image files under {folder} (first: {', '.join(extra[:3])})")
        raise UserError("; ".join(parts) + "; ids are paths relative to the folder (see --list-ids); nothing was "
                        "written", key=key)
