"""Data: datasets as arrays or files, the seeded split, and near-duplicate injection.

- :mod:`.dataset` — :class:`ImageDataset` (images, labels, ids) and its fingerprint;
- :mod:`.images` — images on disk (:class:`~.images.ImageFiles`), decoding, checks, batches;
- :mod:`.split` — the seeded stratified pool / test / calibration split, the initial labeled set;
- :mod:`.near_duplicates` — the near-duplicate stress test;
- :mod:`.loaders` — one module per dataset, registered in :data:`DATASETS` (``dataset=<name>``).

``python -m al_bench.data download-cifar10 DIR`` fetches CIFAR-10 (see :mod:`.__main__`).
"""

from __future__ import annotations

from .dataset import ImageDataset
from .loaders import DATASETS, load_dataset
from .near_duplicates import duplicate_group, inject_near_duplicates
from .split import Split, initial_labeled, make_split

__all__ = ["DATASETS", "load_dataset", "ImageDataset", "Split", "make_split", "initial_labeled",
           "inject_near_duplicates", "duplicate_group"]
