"""Images kept as files and decoded on demand, fixed-size batches for embedders, and the file checks.

Small datasets (digits, CIFAR-10, an .npz) live in memory as one (N, H, W, C) uint8 array.
Large ones (BDD100K: ~70 k images of 1280×720) and user folders stay on disk as
:class:`ImageFiles`; an embedder asks for batches at the size it needs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TypeVar, Union

import numpy as np

from ..errors import UserError

log = logging.getLogger(__name__)

__all__ = ["ImageFiles", "Images", "IMAGE_EXTENSIONS", "load_rgb", "batch_array", "check_image", "inspect_image",
           "scan_images", "find_image_files", "FoundImages", "left_out_summary", "printable_id", "OUTPUT_MARKER", "NOT_UTF8",
           "check_images"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# A folder holding this file was written by al-bench-select (its --out or --copy-to): every scan
# (the command's and dataset=folder's) leaves such a folder out, wherever it lies under the root.
OUTPUT_MARKER = ".al_bench_output"
NOT_UTF8 = "file name is not valid UTF-8"

R = TypeVar("R")


class ImageFiles:
    """A sequence of image files under ``root``, named by POSIX relative paths (the sample ids)."""

    def __init__(self, root: str | Path, relpaths: Sequence[str]) -> None:
        self.root = Path(root)
        self.relpaths = tuple(str(p) for p in relpaths)

    def __len__(self) -> int:
        return len(self.relpaths)

    def path(self, i: int) -> Path:
        return self.root / self.relpaths[i]

    def fingerprint(self) -> str:
        """sha256 over each file's relative path, size and modification time (not its bytes).

        Hashing ~70 k full-size images on every run would cost minutes; a file replaced by
        one of the same size and mtime is not noticed.
        """
        h = hashlib.sha256()
        for rel in self.relpaths:
            st = os.stat(self.root / rel)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


Images = Union[np.ndarray, ImageFiles]


# -- checking files ---------------------------------------------------------------------------
def _decode(path: str | Path, then: Callable[..., R] | None = None) -> tuple[str, R | None]:
    """Decode the file fully: ('', then(image)) when it decodes, else (why not, None).

    JPEGs are decoded in draft mode (a reduced DCT scale): every byte is still read, so a
    truncated file fails, at a fraction of the cost of a full decode.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))
            im.load()
            return "", None if then is None else then(im)
    except Exception as exc:  # PIL raises several types for bad files
        return f"{type(exc).__name__}: {exc}", None


def to_8bit(im):
    """``im`` with 16-bit or 32-bit grey values (PIL modes ``I;16*``, ``I``, ``F``) scaled to
    8-bit ``L``: ``convert`` would clip every value above 255, turning a 16-bit image white.
    ``I;16`` is scaled by 255 / 65535; ``I`` and ``F`` likewise when a value exceeds 255, else kept.
    Other modes are returned as they are."""
    from PIL import Image

    if not (im.mode.startswith("I;16") or im.mode in ("I", "F")):
        return im
    a = np.asarray(im, np.float64)
    if im.mode.startswith("I;16") or (a.size and np.nanmax(a) > 255):
        a = a * (255.0 / 65535.0)
    return Image.fromarray(np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8), "L")


def _mean_luma(im) -> float:
    """Mean grey level (0–255) of the image shrunk to at most 64 × 64."""
    small = to_8bit(im).convert("L")
    small.thumbnail((64, 64))
    return float(np.asarray(small, np.float64).mean())


def check_image(path: str | Path) -> str | None:
    """None when the file decodes fully, else why not (truncated, empty, not an image …)."""
    reason, _ = _decode(path)
    return reason or None


def inspect_image(path: Path) -> tuple[str, float]:
    """('' or why unreadable, mean luma 0–255 — NaN when unreadable); decodes once, as :func:`check_image`."""
    if path.stat().st_size == 0:
        return "empty file", float("nan")
    reason, luma = _decode(path, _mean_luma)
    return reason, float("nan") if reason else luma


@dataclass(frozen=True)
class FoundImages:
    """What a scan of a folder found (see :func:`find_image_files`)."""

    ids: tuple[str, ...]  # POSIX relative paths of the image files, sorted
    left_out: tuple[tuple[str, str], ...]  # (id, reason): image files (or linked folders, id ending in /) not taken
    output_folders: tuple[str, ...]  # folders left out as outputs ("sub/"): marked, or given as excluded
    counts: dict = field(default_factory=dict)  # kind of left-out entry → how many: not_utf8, link_out, loop, broken


def printable_id(rel: str) -> str:
    """``rel`` as valid UTF-8 text: bytes of a file name that are not UTF-8 (which Python keeps as
    lone surrogates) written as ``\\xNN``, so every output file stays valid UTF-8."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _is_utf8(rel: str) -> bool:
    try:
        rel.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def find_image_files(root: str | Path, follow_links: bool = False, exclude: Sequence[str | Path] = ()) -> FoundImages:
    """The image files under ``root`` (recursive; hidden entries ignored), and what was left out.

    Left out, so a scan never reads what it should not:

    - folders holding :data:`OUTPUT_MARKER` (what al-bench-select wrote) and the folders in
      ``exclude``, wherever they lie under ``root`` (``root``'s own marker is ignored: it was asked for);
    - symbolic links (to files or folders alike) whose target lies outside ``root``, unless
      ``follow_links``; links that stay inside are followed, except a link to a folder above it (a loop);
    - files whose relative path is not valid UTF-8 (undecodable bytes in a name): they are
      skipped and listed, by :func:`printable_id`, with the reason :data:`NOT_UTF8`, since no id
      could name them in the UTF-8 output files. Links to a missing target are listed too.
    """
    root = Path(root)
    real_root = os.path.realpath(root)
    excluded = {os.path.realpath(Path(p).expanduser()) for p in exclude}
    ids: list[str] = []
    left: list[tuple[str, str]] = []
    outs: list[str] = []
    counts: Counter = Counter()

    def leave(rel: str, reason: str, kind: str) -> None:
        left.append((printable_id(rel), reason))
        counts[kind] += 1

    def walk(path: str, real: str, rel: str, chain: frozenset) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return  # an unreadable folder is skipped, as before
        for e in entries:
            if e.name.startswith("."):
                continue
            r = rel + e.name
            link = e.is_symlink()
            target = os.path.realpath(e.path) if link else os.path.join(real, e.name)
            try:
                is_dir = e.is_dir()  # follows a link
            except OSError:
                is_dir = False
            if is_dir:
                if link and not follow_links and not _within(target, real_root):
                    leave(r + "/", f"symlink to the folder {printable_id(target)} outside the scanned folder: not "
                                   "followed", "link_out")
                elif target in chain:
                    leave(r + "/", "symlink to a folder above it (a loop): not followed", "loop")
                elif target in excluded or os.path.exists(os.path.join(e.path, OUTPUT_MARKER)):
                    outs.append(printable_id(r) + "/")
                else:
                    walk(e.path, target, r + "/", chain | {target})
                continue
            if os.path.splitext(e.name)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            if not _is_utf8(r):
                leave(r, NOT_UTF8, "not_utf8")
            elif link and not os.path.exists(target):
                leave(r, "symlink to a missing file", "broken")
            elif link and not follow_links and not _within(target, real_root):
                leave(r, f"symlink to {printable_id(target)} outside the scanned folder: not followed", "link_out")
            elif e.is_file():
                ids.append(r)

    walk(str(root), real_root, "", frozenset({real_root}))
    return FoundImages(tuple(sorted(ids)), tuple(sorted(left)), tuple(sorted(outs)), dict(counts))


def left_out_summary(found: FoundImages, follow_flag: str | None = None) -> str:
    """One line on what a scan left out ('' when nothing): output folders, then files by kind;
    ``follow_flag`` names the option that follows links out, when there is one."""
    parts = []
    if found.output_folders:
        shown = ", ".join(found.output_folders[:3]) + (", ..." if len(found.output_folders) > 3 else "")
        parts.append(f"{len(found.output_folders)} output folder(s) ({shown})")
    hint = f" ({follow_flag} follows them)" if follow_flag else ""
    words = {"link_out": f"symlink(s) leading outside the folder{hint}",
             "not_utf8": "name(s) not valid UTF-8", "broken": "broken symlink(s)", "loop": "symlink loop(s)"}
    kinds = [f"{found.counts[k]} {w}" for k, w in words.items() if found.counts.get(k)]
    if kinds:
        parts.append(", ".join(kinds))
    return "left out " + "; ".join(parts) if parts else ""


def scan_images(root: Path, follow_links: bool = False) -> list[str]:
    """POSIX relative paths of image files under ``root`` (recursive, sorted, no hidden entries;
    what :func:`find_image_files` leaves out is not among them)."""
    return list(find_image_files(root, follow_links).ids)


def check_images(root: Path, relpaths: list[str], on_bad_image: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Decode every file once: (good paths, [(bad path, reason)]); ``error`` fails on the first."""
    from tqdm.auto import tqdm

    good, bad = [], []
    for rel in tqdm(relpaths, desc="checking images", unit="img", disable=True if len(relpaths) < 2000 else None, leave=False):
        reason = "empty file" if (root / rel).stat().st_size == 0 else check_image(root / rel)
        if reason is None:
            good.append(rel)
        elif on_bad_image == "error":
            raise UserError(f"{root / rel}: unreadable image ({reason}); fix or remove it, or set "
                            f"dataset.on_bad_image=skip")
        else:
            bad.append((rel, reason))
    if bad:
        log.warning("%d unreadable image(s) under %s are skipped (first: %s — %s); they are listed in the run's "
                    "skipped.csv", len(bad), root, bad[0][0], bad[0][1])
    return good, bad


# -- decoding for embedders -------------------------------------------------------------------
def load_rgb(images: Images, i: int, size: int | None = None):
    """Item ``i`` as an RGB PIL image. With ``size``, JPEGs decode at the smallest DCT scale
    that still covers size × size (PIL's draft mode): a 1280×720 frame bound for 224 px
    decodes at half resolution."""
    from PIL import Image

    if isinstance(images, ImageFiles):
        with Image.open(images.path(i)) as im:
            if size is not None:
                im.draft("RGB", (size, size))
            return to_8bit(im).convert("RGB")
    a = np.asarray(images[i])
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return Image.fromarray(a[..., :3])


def batch_array(images: Images, idx: Sequence[int], size: int | None) -> np.ndarray:
    """Items ``idx`` as a (B, size, size, 3) uint8 array, each resized (bicubic) to size × size.

    In-memory arrays are returned unchanged when ``size`` is None or already matches (grey
    images keep their single channel then); files always need a ``size``.
    """
    from PIL import Image

    idx = np.asarray(idx, dtype=np.int64)
    if isinstance(images, np.ndarray) and (size is None or images.shape[1:3] == (size, size)):
        return images[idx]
    if size is None:
        raise UserError("images on disk have varying sizes: the embedder needs an image_size")
    out = np.empty((len(idx), size, size, 3), np.uint8)
    for j, i in enumerate(idx.tolist()):
        im = load_rgb(images, i, size)
        if im.size != (size, size):
            im = im.resize((size, size), Image.BICUBIC)
        out[j] = np.asarray(im)
    return out
