"""``dataset=folder``: your own images in class subfolders, checked once, kept on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...errors import UserError
from ..dataset import ImageDataset, _encode_labels
from ..images import IMAGE_EXTENSIONS, ImageFiles, check_images, find_image_files, left_out_summary
from . import DATASETS

log = logging.getLogger(__name__)

__all__ = ["load_folder"]


@DATASETS.register("folder")
def load_folder(root: str | None = None, on_bad_image: str = "skip", follow_links: bool = False) -> ImageDataset:
    """Images in class subfolders: ``root/<class>/**/<image>``; the ids are POSIX relative paths.
    ``follow_links``: also read links whose target lies outside ``root`` (left out by default)."""
    if not isinstance(follow_links, bool):
        raise UserError(f"{follow_links!r}: must be true or false", key="dataset.follow_links")
    if on_bad_image not in ("skip", "error"):
        raise UserError(f"dataset.on_bad_image={on_bad_image!r}: choose one of ['error', 'skip']")
    if not root:
        raise UserError("{dataset}=folder needs {root}=DIR (one subfolder of images per class)",
                        refs={"dataset": "dataset", "root": "dataset.root"})
    base = Path(root).expanduser()
    if not base.is_dir():
        raise UserError(f"no such folder: {base.resolve()}", key="dataset.root")
    try:
        str(base).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the path is not valid UTF-8; rename the folder", key="dataset.root") from None
    # The same scan as al-bench-select's: folders that command wrote (marked) are left out, and so
    # are links whose target lies outside the root (unless follow_links) and files whose names are not valid UTF-8 (no id
    # could name them in the run's UTF-8 files); those are listed in the run's skipped.csv.
    scan = find_image_files(base, follow_links=follow_links)
    found = list(scan.ids)
    if scan.left_out or scan.output_folders:
        log.warning("%s under %s%s", left_out_summary(scan),
                    base, "; the files are listed in the run's skipped.csv" if scan.left_out else "")
    loose = [r for r in found if "/" not in r]
    if loose:
        log.warning("%d image(s) directly in %s have no class folder and are ignored (first: %s)",
                    len(loose), base, loose[0])
    found = [r for r in found if "/" in r]
    if not found:
        raise UserError(f"dataset.root={base}: no images ({', '.join(IMAGE_EXTENSIONS)}) in class subfolders")
    good, bad = check_images(base, found, on_bad_image)
    labels, names = _encode_labels(np.array([r.split("/", 1)[0] for r in good]), str(base))
    return ImageDataset(f"folder:{base.name}", ImageFiles(base, good), labels, np.array(good), names,
                        None, tuple((r, why) for r, why in bad) + scan.left_out)
