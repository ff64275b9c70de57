"""The ids of a folder of images: every image file under it, checked once (decodable? how
bright?) and remembered in a scan cache, so a second call only stats the files.

The scan (:func:`al_bench.data.images.find_image_files`) leaves out every folder the command
wrote (marked with :data:`~al_bench.data.images.OUTPUT_MARKER`, or given as ``--out`` /
``--copy-to``), links leading outside the folder (unless ``follow_links``) and names that are
not valid UTF-8; the files among those are listed with the unreadable ones."""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.images import IMAGE_EXTENSIONS, FoundImages, find_image_files, inspect_image, left_out_summary
from ..errors import UserError
from ..runfiles import write_csv

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
    left_out: tuple[tuple[str, str], ...] = ()  # (id, reason): links out, names not UTF-8 … (not in found)
    output_folders: tuple[str, ...] = ()  # folders left out as the command's outputs ("sub/")


def _walk(root: Path, exclude: list[Path] | None, say: Say, what: str, follow_links: bool,
          listed: bool = True) -> tuple[Path, FoundImages]:
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"no such folder: {root}", key=what)
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the path is not valid UTF-8; rename the folder", key=what) from None
    found = find_image_files(root, follow_links, exclude or [])
    line = left_out_summary(found, "--follow-links")
    if line:
        say(line + ("; the files are listed in unreadable.csv" if found.left_out and listed else ""))
    return root, found


def find_images(root: Path, exclude: list[Path] | None = None, say: Say = _quiet,
                what: str = "--images-dir", follow_links: bool = False) -> tuple[Path, list[str]]:
    """(resolved root, sorted ids of the image files under it), none under ``exclude`` or a
    marked output folder, no link leading out unless ``follow_links`` (see the module docstring);
    what was left out is said in one line. Errors name the folder by ``what`` (the command's
    flag by default) and carry it as their key."""
    root, found = _walk(root, exclude, say, what, follow_links, listed=False)
    return root, list(found.ids)


def _read_cache(scan_path: Path, say: Say) -> dict[tuple[str, int, int], tuple[str, float]]:
    """(id, size, mtime_ns) → (reason, brightness) from an earlier scan; a damaged cache is rebuilt."""
    old: dict[tuple[str, int, int], tuple[str, float]] = {}
    try:
        with open(scan_path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):  # brightness: empty for NaN
                old[(r["id"], int(r["size"]), int(r["mtime_ns"]))] = (r["reason"], float(r["brightness"] or "nan"))
    except FileNotFoundError:
        pass
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as exc:
        say(f"ignoring an unreadable scan cache {scan_path} ({type(exc).__name__}: {exc})")
        old = {}
    return old


PARALLEL_FROM = 2000  # files to decode from which the check runs in a process per core


def _inspect_chunk(root: str, rels: list[str]) -> list[tuple[str, float]]:
    return [inspect_image(Path(root) / rel) for rel in rels]


def _inspect_all(root: Path, rels: list[str], progress: bool) -> list[tuple[str, float]]:
    """:func:`inspect_image` of every file, in order: in a process per core (chunks of files)
    when there are at least :data:`PARALLEL_FROM`, else here. Decoding is CPU-bound and Pillow
    holds the GIL for part of it, so processes, not threads."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(rels), desc="checking images", unit="img", leave=False,
               disable=True if not progress or len(rels) < 200 else None)  # None: off when not a terminal
    workers = min(os.cpu_count() or 1, 32)
    out: list[tuple[str, float]] = []
    try:
        if len(rels) < PARALLEL_FROM or workers < 2:
            for rel in rels:
                out.append(inspect_image(root / rel))
                bar.update(1)
            return out
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        step = max(64, min(4096, len(rels) // (workers * 16)))
        chunks = [rels[i : i + step] for i in range(0, len(rels), step)]
        # spawn: a forked child of a process that runs threads (torch's, a web app's) could inherit
        # a held lock; a spawned one imports only this module's dependencies (numpy, Pillow)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
            for part in ex.map(_inspect_chunk, [str(root)] * len(chunks), chunks):
                out.extend(part)
                bar.update(len(part))
        return out
    finally:
        bar.close()


def scan_folder(root: Path, cache_dir: Path, progress: bool = True, exclude: list[Path] | None = None,
                say: Say = _quiet, what: str = "--images-dir", follow_links: bool = False) -> FolderScan:
    """Every image under ``root`` (as :func:`find_images` finds them), checked once."""
    import pandas as pd

    root, walked = _walk(root, exclude, say, what, follow_links)
    found = list(walked.ids)
    if not found:
        more = (f"; {len(walked.left_out)} left out (first: {walked.left_out[0][0]}: {walked.left_out[0][1]})"
                if walked.left_out else "")
        raise UserError(f"no image files ({' '.join(IMAGE_EXTENSIONS)}) found{more}", key=f"{what} {root}")
    scan_path = cache_dir / "folders" / hashlib.sha256(str(root).encode()).hexdigest()[:16] / SCAN_FILE
    old = _read_cache(scan_path, say)
    rows, good, bad, bright, n_cached = [], [], [], [], 0
    h = hashlib.sha256(str(root).encode())
    stats = [os.stat(root / rel) for rel in found]
    todo = [i for i, (rel, st) in enumerate(zip(found, stats)) if (rel, st.st_size, st.st_mtime_ns) not in old]
    checked = _inspect_all(root, [found[i] for i in todo], progress)
    fresh = dict(zip(todo, checked))
    for i, (rel, st) in enumerate(zip(found, stats)):
        key = (rel, st.st_size, st.st_mtime_ns)
        if i in fresh:
            reason, b = fresh[i]
        else:
            reason, b = old[key]
            n_cached += 1
        if not reason.startswith("PermissionError"):  # may pass after a chmod (same mtime): not cached
            rows.append((rel, st.st_size, st.st_mtime_ns, reason, b))
        if reason:
            bad.append((rel, reason))
        else:
            good.append(rel)
            bright.append(b)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    cache = pd.DataFrame(rows, columns=["id", "size", "mtime_ns", "reason", "brightness"])
    try:
        write_csv(cache, scan_path)  # quotes ids holding \r, \n, quotes or commas
    except OSError as exc:
        say(f"could not write the scan cache {scan_path} ({exc}); the next run checks every file again")
    return FolderScan(root, tuple(found), tuple(good), tuple(bad), np.array(bright, np.float64), h.hexdigest(), n_cached,
                      walked.left_out, walked.output_folders)
