"""``dataset=cifar10``: CIFAR-10 in the official python format, downloaded on request."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np

from ...errors import UserError
from ..dataset import ImageDataset
from . import DATASETS

log = logging.getLogger(__name__)

__all__ = ["load_cifar10", "cifar10_present", "download_cifar10", "CIFAR_DIR"]

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"


def cifar10_present(root: Path) -> bool:
    """Whether ``root`` holds every batch of the python-format CIFAR-10."""
    d = root / CIFAR_DIR
    return all((d / f).is_file() for f in (*CIFAR_TRAIN, CIFAR_TEST))


def download_cifar10(root: Path) -> None:
    """torchvision's download (checksummed archive, extracted under ``root``)."""
    from torchvision.datasets import CIFAR10

    existed = root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        CIFAR10(str(root), train=True, download=True)
    except BaseException:
        if not existed and not any(root.iterdir()):  # leave nothing behind from a failed attempt
            root.rmdir()
        raise


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file → images (n, 32, 32, 3) uint8, labels (n,) int64."""
    # the official python-format batches are pickled dicts (the format the dataset ships in)
    try:
        with open(path, "rb") as f:
            b = pickle.load(f, encoding="bytes")
        x = np.asarray(b[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.asarray(b[b"labels"], dtype=np.int64)
    except Exception as exc:
        raise UserError(f"{path}: not a CIFAR-10 python-format batch ({type(exc).__name__}: {exc})") from exc
    if len(x) != len(y):
        raise UserError(f"{path}: {len(x)} images but {len(y)} labels")
    return np.ascontiguousarray(x), y


@DATASETS.register("cifar10")
def load_cifar10(root: str | None = None, download: bool = False, data_dir: Path | None = None) -> ImageDataset:
    """CIFAR-10 in the official python format under ``root`` (default ``<data_dir>/cifar10``).

    Official train batches are pool candidates, the official test batch is the test split.
    """
    base = Path(root).expanduser() if root else Path(data_dir or "data") / "cifar10"
    if not cifar10_present(base) and download:
        log.info("dataset cifar10: downloading into %s", base)
        try:
            download_cifar10(base)
        except Exception as exc:  # offline, proxy, disk full: say so in one line
            raise UserError(
                f"dataset=cifar10: download into {base} failed ({type(exc).__name__}: {exc}); download "
                f"cifar-10-python.tar.gz elsewhere and extract it there, or use dataset=npz dataset.path=FILE "
                f"or dataset=digits") from exc
    if not cifar10_present(base):
        raise UserError(
            f"dataset=cifar10: no CIFAR-10 at {(base / CIFAR_DIR).resolve()}; run with dataset.download=true on a "
            f"machine with a network (or copy {CIFAR_DIR}/ there), or use dataset=npz dataset.path=FILE or "
            f"dataset=digits")
    d = base / CIFAR_DIR
    parts = [_read_batch(d / f) for f in (*CIFAR_TRAIN, CIFAR_TEST)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    n_test = len(parts[-1][1])
    is_test = np.zeros(len(labels), bool)
    is_test[-n_test:] = True
    names = tuple(str(i) for i in range(10))
    meta = d / "batches.meta"
    if meta.is_file():
        with open(meta, "rb") as f:
            names = tuple(n.decode() for n in pickle.load(f, encoding="bytes")[b"label_names"])
    n_train = len(labels) - n_test
    ids = np.array([f"cifar10:train:{i:05d}" for i in range(n_train)] + [f"cifar10:test:{i:05d}" for i in range(n_test)])
    if labels.min() < 0 or labels.max() >= len(names):
        raise UserError(f"{d}: labels outside 0..{len(names) - 1}")
    return ImageDataset("cifar10", images, labels, ids, names, is_test)

