"""Images kept as files and decoded on demand, fixed-size batches for embedders, and the file checks.

Small datasets (digits, CIFAR-10, an .npz) live in memory as one (N, H, W, C) uint8 array.
Large ones (BDD100K: ~70 k images of 1280×720) and user folders stay on disk as
:class:`ImageFiles`; an embedder asks for batches at the size it needs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, Sequence, TypeVar, Union

import numpy as np

from ..errors import UserError

log = logging.getLogger(__name__)

__all__ = ["ImageFiles", "Images", "IMAGE_EXTENSIONS", "load_rgb", "batch_array", "check_image", "inspect_image",
           "scan_images", "check_images"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")

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


def _mean_luma(im) -> float:
    """Mean grey level (0–255) of the image shrunk to at most 64 × 64."""
    small = im.convert("L")
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


def scan_images(root: Path) -> list[str]:
    """POSIX relative paths of image files under ``root`` (recursive, sorted, no hidden entries)."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            out.append(rel.as_posix())
    return sorted(out)


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
            return im.convert("RGB")
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
