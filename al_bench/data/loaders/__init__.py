"""Dataset loaders, one module each, registered by config name (``dataset=<name>``).

A loader is a function returning an :class:`~al_bench.data.ImageDataset`; its keyword
arguments with defaults are its options in ``al_bench/conf/dataset/<name>.yaml``. ``data_dir``
(``paths.data_dir``) is passed by the caller to loaders that take it, never set in the config.
Loaders fail with a one-line :class:`~al_bench.errors.UserError` that says where they looked and
what to do. Adding a dataset = one module here with ``@DATASETS.register("<name>")`` and one YAML.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import numpy as np

from ...registry import Registry
from ..dataset import ImageDataset

log = logging.getLogger(__name__)

__all__ = ["DATASETS", "load_dataset"]

DATASETS: Registry = Registry("dataset", package=__name__, key="dataset", injected=("data_dir",))


def load_dataset(name: str, data_dir: Path | None = None, **options: object) -> ImageDataset:
    """Load a dataset by its config name."""
    fn = DATASETS.entry(name).obj
    if "data_dir" in inspect.signature(fn).parameters:
        options = {**options, "data_dir": data_dir}
    ds = fn(**options)
    shape = ds.images.shape[1:] if isinstance(ds.images, np.ndarray) else "(files)"
    log.info("dataset %s: %d images %s, %d classes", ds.name, len(ds.labels), shape, ds.n_classes)
    return ds
