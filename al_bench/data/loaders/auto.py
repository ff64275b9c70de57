"""``dataset=auto``: the study's data where it is present, else the bundled digits."""

from __future__ import annotations

import logging
from pathlib import Path

from ..dataset import ImageDataset
from . import DATASETS, cifar10
from .bdd100k_weather import is_bdd100k, load_bdd100k_weather
from .digits import load_digits

log = logging.getLogger(__name__)

__all__ = ["load_auto"]


@DATASETS.register("auto")
def load_auto(root: str | None = None, cifar_root: str | None = None, download: bool = True,
              drop_undefined: bool = True, data_dir: Path | None = None) -> ImageDataset:
    """BDD100K weather if ``root`` holds it, else CIFAR-10 if present or downloadable, else digits."""
    if is_bdd100k(root):
        log.info("dataset auto: chose bdd100k_weather (found its labels under %s)", root)
        return load_bdd100k_weather(root, drop_undefined, data_dir)
    cifar = Path(cifar_root).expanduser() if cifar_root else Path(data_dir or "data") / "cifar10"
    if cifar10.cifar10_present(cifar):
        log.info("dataset auto: chose cifar10 (found at %s)", cifar)
        return cifar10.load_cifar10(str(cifar), False, data_dir)
    if download:
        try:
            cifar10.download_cifar10(cifar)
            log.info("dataset auto: chose cifar10 (downloaded into %s)", cifar)
            return cifar10.load_cifar10(str(cifar), False, data_dir)
        except Exception as exc:  # noqa: BLE001 - any failure means: fall back
            log.warning("dataset auto: CIFAR-10 is not at %s and could not be downloaded (%s: %s)",
                        cifar, type(exc).__name__, exc)
    log.warning("dataset auto: chose digits (no BDD100K at dataset.root=%s, no CIFAR-10 at %s); results are "
                "for 8x8 digits, not the study's data", root, cifar)
    return load_digits()
