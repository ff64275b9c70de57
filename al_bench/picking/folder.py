"""The ids of a folder of images: every image file under it, checked once (decodable? how
bright?) and remembered in a scan cache, so a second call only stats the files."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.images import IMAGE_EXTENSIONS, inspect_image, scan_images
from ..errors import UserError
from ..runfiles import atomic_write_text

__all__ = ["FolderScan", "default_cache_dir", "find_images", "scan_folder", "SCAN_FILE"]

SCAN_FILE = "scan.csv"

Say = Callable[[str], None]


def _quiet(msg: str) -> None:
    pass


def default_cache_dir() -> Path:
    """``$AL_BENCH_CACHE``, else ``$XDG_CACHE_HOME/al_bench``, else ``~/.cache/al_bench``."""
    if os.environ.get("AL_BENCH_CACHE"):
        return Path(os.environ["AL_BENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "al_bench"


@dataclass(frozen=True)
class FolderScan:
    root: Path
    found: tuple[str, ...]  # every image file, sorted (the .npy predictions row order)
    good: tuple[str, ...]  # decodable ones, sorted
    bad: tuple[tuple[str, str], ...]  # (id, reason)
    brightness: np.ndarray  # (len(good),) mean luma 0–255 of each good image
    fingerprint: str  # folder + every good file's path, size and mtime
    n_cached: int  # files whose check came from the scan cache


def _inside(root: Path, folders: list[Path]) -> list[str]:
    """POSIX prefixes (``sub/``) of those ``folders`` that lie inside ``root``."""
    out = []
    for f in folders:
        try:
            out.append(f.expanduser().resolve().relative_to(root).as_posix().rstrip("/") + "/")
        except ValueError:
            continue
    return out


def find_images(root: Path, exclude: list[Path] | None = None, say: Say = _quiet,
                what: str = "--images-dir") -> tuple[Path, list[str]]:
    """(resolved root, sorted ids of the image files under it, none under ``exclude``).
    Errors name the folder by ``what`` (the command's flag by default) and carry it as their key."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"no such folder: {root}", key=what)
    found = scan_images(root)
    prefixes = [p for p in _inside(root, exclude or []) if p != "./"]
    if prefixes:
        n0 = len(found)
        found = [r for r in found if not r.startswith(tuple(prefixes))]
        if len(found) < n0:
            say(f"left out {n0 - len(found)} image(s) under the output folder(s) {', '.join(prefixes)}")
    return root, found


def _read_cache(scan_path: Path, say: Say) -> dict[tuple[str, int, int], tuple[str, float]]:
    """(id, size, mtime_ns) → (reason, brightness) from an earlier scan; a damaged cache is rebuilt."""
    old: dict[tuple[str, int, int], tuple[str, float]] = {}
    try:
        with open(scan_path, newline="") as f:
            for r in csv.DictReader(f):
                old[(r["id"], int(r["size"]), int(r["mtime_ns"]))] = (r["reason"], float(r["brightness"]))
    except FileNotFoundError:
        pass
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as exc:
        say(f"ignoring an unreadable scan cache {scan_path} ({type(exc).__name__}: {exc})")
        old = {}
    return old


def scan_folder(root: Path, cache_dir: Path, progress: bool = True, exclude: list[Path] | None = None,
                say: Say = _quiet, what: str = "--images-dir") -> FolderScan:
    """Every image under ``root`` (none under ``exclude``, e.g. the output folder), checked once."""
    from tqdm.auto import tqdm

    root, found = find_images(root, exclude, say, what)
    if not found:
        raise UserError(f"no image files ({' '.join(IMAGE_EXTENSIONS)}) found", key=f"{what} {root}")
    scan_path = cache_dir / "folders" / hashlib.sha256(str(root).encode()).hexdigest()[:16] / SCAN_FILE
    old = _read_cache(scan_path, say)
    rows, good, bad, bright, n_cached = [], [], [], [], 0
    h = hashlib.sha256(str(root).encode())
    for rel in tqdm(found, desc="checking images", unit="img", disable=not progress or len(found) < 200, leave=False):
        st = os.stat(root / rel)
        key = (rel, st.st_size, st.st_mtime_ns)
        if key in old:
            reason, b = old[key]
            n_cached += 1
        else:
            reason, b = inspect_image(root / rel)
        if not reason.startswith("PermissionError"):  # may pass after a chmod (same mtime): not cached
            rows.append((rel, st.st_size, st.st_mtime_ns, reason, b))
        if reason:
            bad.append((rel, reason))
        else:
            good.append(rel)
            bright.append(b)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "size", "mtime_ns", "reason", "brightness"])
    w.writerows(rows)
    try:
        atomic_write_text(scan_path, out.getvalue())
    except OSError as exc:
        say(f"could not write the scan cache {scan_path} ({exc}); the next run checks every file again")
    return FolderScan(root, tuple(found), tuple(good), tuple(bad), np.array(bright, np.float64), h.hexdigest(), n_cached)
