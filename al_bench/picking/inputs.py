"""What the selection command reads besides the images: the labeled list, model outputs (class
probabilities), and their alignment to the folder's ids. Detection and segmentation predictions
are read and scored per image by their task (:func:`al_bench.task_scores.read_task_scores`).

Errors name the input by ``what`` (the command's flag by default) and carry it as their key.
"""

from __future__ import annotations

import csv
import logging
import zipfile
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import UserError

log = logging.getLogger("al_bench.select")

__all__ = ["read_labeled", "has_labels", "read_predictions", "PREDICTION_PARSERS", "align", "check_numpy_file"]


# -- the labeled list ---------------------------------------------------------------------------
def read_labeled(path: Path, what: str = "--labeled") -> tuple[list[str], list[str] | None]:
    """(ids, labels or None) from a CSV with an ``id`` column and optionally ``label``."""
    import pandas as pd

    key = f"{what} {path}"
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read ({exc})", key=key) from None
    if "id" not in df.columns:
        raise UserError(f"needs an 'id' column (and 'label' to train a head); has {list(df.columns)}", key=key)
    stripped = df["id"].str.strip()
    ids = stripped.tolist()
    dup = stripped[stripped.duplicated()].unique().tolist()  # after stripping, as the ids are used; linear time
    if dup:
        raise UserError(f"repeated ids: {', '.join(dup[:5])} (spaces around an id are ignored)", key=key)
    labels = None
    if "label" in df.columns:
        labels = df["label"].str.strip().tolist()
        empty = [i for i, v in zip(ids, labels) if not v]
        if empty:
            raise UserError(f"{len(empty)} row(s) have an empty label (first: {', '.join(empty[:5])}); give every "
                            "label, or drop the 'label' column to use the ids only as k-center seeds", key=key)
    return ids, labels


def has_labels(path: Path | None, what: str = "--labeled") -> bool:
    """Whether the labeled CSV has a ``label`` column (reads its header only)."""
    if path is None:
        return False
    try:
        with open(path, newline="") as f:
            return "label" in next(csv.reader(f), [])
    except OSError as exc:
        raise UserError(f"cannot read ({exc})", key=f"{what} {path}") from None


# -- class probabilities ----------------------------------------------------------------------
def _csv(path: Path, key: str, found: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """An ``id`` column and one probability column per class."""
    import pandas as pd

    # ids as written: "0007" or "1e5" is a file name, not a number; only an empty cell is missing
    df = pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
    if "id" not in df.columns or df.shape[1] < 3:
        raise UserError(f"needs an 'id' column and one probability column per class (at least 2); "
                        f"has {list(df.columns)}", key=key)
    cols = [c for c in df.columns if c != "id"]
    nonnum = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if nonnum:
        raise UserError(f"columns {nonnum} are not numbers", key=key)
    return df["id"].astype(str).tolist(), df[cols].to_numpy(np.float64)


def _npz(path: Path, key: str, found: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Arrays ``ids`` (N,) and ``probs`` (N, C) or (K, N, C)."""
    with np.load(path, allow_pickle=False) as z:
        if "ids" not in z or "probs" not in z:  # (ids saved as an object array fail to load: use str)
            raise UserError(f"an .npz needs arrays 'ids' and 'probs'; has {list(z.keys())}", key=key)
        return [str(s) for s in z["ids"].tolist()], np.asarray(z["probs"])


def _npy(path: Path, key: str, found: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(N, C) or (K, N, C), rows in the sorted order of every image file found."""
    p = np.load(path, allow_pickle=False)
    if p.ndim not in (2, 3) or p.shape[-2] != len(found):
        raise UserError(f"an .npy must be (N, C) or (K, N, C) with one row per image file found ({len(found)}, "
                        f"in the sorted order of --list-ids), got {p.shape}", key=key)
    return list(found), p


_MAGIC = {".npz": (b"PK", "a zip archive of .npy arrays (numpy.savez)"),
          ".npy": (b"\x93NUMPY", "a NumPy array file (numpy.save)")}


def check_numpy_file(path: Path, key: str) -> None:
    """Fail in plain words when an .npz / .npy file is not one (numpy's own message for, say, a
    text file is about pickled data)."""
    magic, kind = _MAGIC.get(path.suffix.lower(), (None, ""))
    if magic is None:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(len(magic))
    except OSError as exc:
        raise UserError(f"cannot read it ({exc})", key=key) from None
    if head != magic:
        what = "it is empty" if not head else f"it starts with {head!r}"
        raise UserError(f"is not {kind}: {what} (a CSV file? name it .csv)", key=key)


# suffix → parser(path, key, ids of every image file found) → (ids, probs)
PREDICTION_PARSERS: Mapping[str, Callable[[Path, str, Sequence[str]], tuple[list[str], np.ndarray]]] = {
    ".csv": _csv, ".npz": _npz, ".npy": _npy}


def read_predictions(path: Path, found: Sequence[str], what: str = "--predictions") -> tuple[list[str], np.ndarray]:
    """(ids, probs (N, C) or MC samples (K, N, C)) from a .csv, .npz or .npy predictions file;
    ``found`` is the row order of an .npy (every image file, sorted)."""
    if not path.is_file():
        raise UserError(f"no such file: {path}", key=what)
    key = f"{what} {path}"
    parse = PREDICTION_PARSERS.get(path.suffix.lower())
    if parse is None:
        raise UserError("use .csv, .npz or .npy (or --task detection/segmentation)", key=key)
    check_numpy_file(path, key)
    try:
        ids, p = parse(path, key, found)
        p = np.asarray(p, np.float64)
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"cannot read it ({type(exc).__name__}: {exc})", key=key) from None
    if p.ndim not in (2, 3) or p.shape[-2] != len(ids) or p.shape[-1] < 2:
        raise UserError(f"probabilities must be (N, C) or (K, N, C) with one row per id ({len(ids)} ids) and "
                        f"C >= 2 classes; got shape {p.shape}", key=key)
    return ids, p


# -- alignment --------------------------------------------------------------------------------
def align(ids: list[str], values: np.ndarray, good: list[str], need: np.ndarray, what: str) -> np.ndarray:
    """Rows of ``values`` (one per id, on axis −2) reordered to ``good``; rows for the positions
    ``need`` of ``good`` must exist, others are NaN. Ids not in ``good`` are ignored."""
    known = set(good)
    index = {s: i for i, s in enumerate(ids)}
    if len(index) != len(ids):
        dup = sorted(s for s, c in Counter(ids).items() if c > 1)
        raise UserError(f"repeated ids: {', '.join(dup[:5])}", key=what)
    strangers = [s for s in ids if s not in known]
    missing = [good[i] for i in need if good[i] not in index]
    if missing:
        raise UserError(f"no prediction for {len(missing)} image(s) that may be picked "
                        f"(first: {', '.join(missing[:5])})", key=what)
    if strangers:
        log.info("%s: %d id(s) are not readable images of the folder and are ignored", what, len(strangers))
    shape = list(values.shape)
    shape[-2] = len(good)
    out = np.full(shape, np.nan)
    have = [i for i, s in enumerate(good) if s in index]
    src = [index[good[i]] for i in have]
    if values.ndim == 2:
        out[have] = values[src]
    else:
        out[:, have] = values[:, src]
    return out
