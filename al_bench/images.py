"""Images kept as files and decoded on demand, and fixed-size batches for embedders.

Small datasets (digits, CIFAR-10, an .npz) live in memory as one (N, H, W, C) uint8 array.
Large ones (BDD100K: ~70 k images of 1280×720) and user folders stay on disk as
:class:`ImageFiles`; an embedder asks for batches at the size it needs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from .errors import UserError

__all__ = ["ImageFiles", "Images", "IMAGE_EXTENSIONS", "load_rgb", "batch_array", "check_image"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


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


def check_image(path: str | Path) -> str | None:
    """None when the file decodes fully, else why not (truncated, empty, not an image …).

    JPEGs are decoded in draft mode (a reduced DCT scale): every byte is still read, so a
    truncated file fails, at a fraction of the cost of a full decode.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))
            im.load()
    except Exception as exc:  # PIL raises several types for bad files
        return f"{type(exc).__name__}: {exc}"
    return None


def load_rgb(images: Images, i: int, size: int | None = None):
    """Item ``i`` as an RGB PIL image. With ``size``, JPEGs decode at the smallest DCT scale
    that still covers size × size (PIL's draft mode): a 1280×720 frame bound for 224 px
    decodes at half resolution, about three times faster."""
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
