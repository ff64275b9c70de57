"""What a person typed into a labeling project, checked: names (project, class, checkpoint,
selection, subset), the labels box, uploaded file names, paths and seeds. Each refusal is a
:class:`~al_bench.errors.UserError` that names the field."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = ["MAX_NAME", "check_name", "parse_labels", "safe_file_name", "user_path", "check_seed"]

MAX_NAME = 100


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

