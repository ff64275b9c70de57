"""``dataset=npz``: an arrays file with images and labels (and optionally the test split and ids)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import UserError
from ..dataset import PIXEL_RANGES, ImageDataset, _encode_labels, _to_uint8_images
from . import DATASETS

__all__ = ["load_npz"]


@DATASETS.register("npz")
def load_npz(path: str | Path | None = None, pixel_range: str = "auto") -> ImageDataset:
    """Arrays file with ``images``, ``labels`` and optional ``is_test``, ``class_names``, ``source``.

    ``pixel_range`` (``auto``, ``0-1``, ``0-255``) says how numbers other than uint8 map to grey
    levels; ``auto`` fails on data it cannot tell apart (see
    :func:`~al_bench.data.dataset._to_uint8_images`).
    """
    if str(pixel_range) not in PIXEL_RANGES:
        raise UserError(f"{str(pixel_range)!r}: choose one of {list(PIXEL_RANGES)}", key="dataset.pixel_range")
    if not path:
        raise UserError("{dataset}=npz needs {path}=FILE (an .npz with 'images' and 'labels')",
                        refs={"dataset": "dataset", "path": "dataset.path"})
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"no such file: {p.resolve()} (an .npz with 'images' and 'labels')", key="dataset.path")
    try:
        z = np.load(p, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # a corrupt or non-npz file
        raise UserError(f"cannot read {p} as .npz: {exc}", key="dataset.path") from exc
    missing = [k for k in ("images", "labels") if k not in arrays]
    if missing:
        raise UserError(f"{p}: missing array(s) {missing}; found {sorted(arrays)}")
    images = _to_uint8_images(arrays["images"], str(p), str(pixel_range))
    labels, names = _encode_labels(arrays["labels"], str(p))
    if len(images) != len(labels):
        raise UserError(f"{p}: {len(images)} images but {len(labels)} labels")
    if "class_names" in arrays:  # names indexed by the integer label values
        given = [str(s) for s in arrays["class_names"].tolist()]
        if all(n.isdigit() and int(n) < len(given) for n in names):
            names = tuple(given[int(n)] for n in names)
    is_test = None
    if "is_test" in arrays:
        is_test = np.asarray(arrays["is_test"]).astype(bool)
        if is_test.shape != labels.shape:
            raise UserError(f"{p}: 'is_test' has shape {is_test.shape}, expected {labels.shape}")
    if "source" in arrays and len(arrays["source"]) == len(labels):
        ids = np.asarray(arrays["source"]).astype(str)
    else:
        ids = np.array([f"{p.stem}:{i}" for i in range(len(labels))])
    if len(np.unique(ids)) != len(ids):
        ids = np.array([f"{p.stem}:{i}" for i in range(len(labels))])
    return ImageDataset(f"npz:{p.stem}", images, labels, ids, names, is_test)
