"""``dataset=bdd100k_weather``: BDD100K frames labeled by their weather attribute, images kept on disk."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import UserError
from ...runfiles import write_csv
from ..dataset import ImageDataset
from ..images import ImageFiles
from . import DATASETS

log = logging.getLogger(__name__)

__all__ = ["load_bdd100k_weather", "is_bdd100k", "BDD_WEATHER"]

BDD_WEATHER = ("clear", "partly cloudy", "overcast", "rainy", "snowy", "foggy", "undefined")
BDD_LABEL_FILES = {"train": "bdd100k_labels_images_train.json", "val": "bdd100k_labels_images_val.json"}


def _label_file(root: Path, split: str) -> Path | None:
    name = BDD_LABEL_FILES[split]
    for cand in (root / "labels" / name, root / name, root / "labels" / "100k" / name):
        if cand.is_file():
            return cand
    return None


def _image_dir(root: Path, split: str) -> Path:
    for cand in (root / "images" / "100k" / split, root / "images" / split):
        if cand.is_dir():
            return cand
    return root / "images" / "100k" / split


def _weather(label_file: Path, data_dir: Path | None) -> pd.DataFrame:
    """(name, weather) per frame of an official label JSON; parsed once and cached as CSV.

    The official train file is about 1.3 GB (it also holds every box), so parsing it on every
    run would cost tens of seconds; the cache is keyed by the file's path, size and mtime.
    """
    st = label_file.stat()
    key = hashlib.sha256(f"{label_file.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:24]
    cache = Path(data_dir) / "bdd100k_weather" / f"{label_file.stem}-{key}.csv" if data_dir else None
    if cache is not None and cache.is_file():
        return pd.read_csv(cache, dtype=str, keep_default_na=False)
    try:
        frames = json.loads(label_file.read_text())
        rows = [(f["name"], f.get("attributes", {}).get("weather", "undefined")) for f in frames]
    except Exception as exc:
        raise UserError(f"{label_file}: not a BDD100K label JSON ({type(exc).__name__}: {exc})") from exc
    df = pd.DataFrame(rows, columns=["name", "weather"])
    unknown = sorted(set(df["weather"]) - set(BDD_WEATHER))
    if unknown:
        raise UserError(f"{label_file}: unknown weather value(s) {unknown}; expected {list(BDD_WEATHER)}")
    if cache is not None:
        write_csv(df, cache)
    return df


def is_bdd100k(root: str | Path | None) -> bool:
    """Whether ``root`` holds BDD100K's official train label file."""
    return bool(root) and _label_file(Path(root).expanduser(), "train") is not None


@DATASETS.register("bdd100k_weather")
def load_bdd100k_weather(root: str | None = None, drop_undefined: bool = True,
                         data_dir: Path | None = None) -> ImageDataset:
    """BDD100K images labeled by the frame attribute ``weather`` from the official label JSON.

    Official train = pool candidates, official val = test (the test labels are not public).
    Frames whose image file is missing are left out, counted and reported.
    """
    if not root:
        raise UserError("{dataset}=bdd100k_weather needs {root}=DIR (the folder with labels/ and images/100k/)",
                        refs={"dataset": "dataset", "root": "dataset.root"})
    base = Path(root).expanduser()
    paths, weather, is_test, skipped = [], [], [], []
    for split in ("train", "val"):
        lf = _label_file(base, split)
        if lf is None:
            raise UserError(f"dataset.root={base}: no {BDD_LABEL_FILES[split]} in {base}/labels or {base}")
        df = _weather(lf, data_dir)
        img_dir = _image_dir(base, split)
        rel_dir = img_dir.relative_to(base).as_posix()
        for name, w in zip(df["name"].tolist(), df["weather"].tolist()):
            rel = f"{rel_dir}/{name}"
            if drop_undefined and w == "undefined":
                continue
            if not (img_dir / name).is_file():
                skipped.append((rel, "missing file"))
                continue
            paths.append(rel)
            weather.append(w)
            is_test.append(split == "val")
    if skipped:
        log.warning("dataset bdd100k_weather: %d labeled frame(s) have no image file under %s and are left out "
                    "(first: %s)", len(skipped), base, skipped[0][0])
    if not paths:
        raise UserError(f"dataset.root={base}: no labeled frame has an image file (looked in {_image_dir(base, 'train')})")
    present = [w for w in BDD_WEATHER if w in set(weather)]
    if len(present) < 2:
        raise UserError(f"dataset.root={base}: needs at least 2 weather classes, found {present}")
    code = {w: i for i, w in enumerate(present)}
    labels = np.array([code[w] for w in weather], np.int64)
    is_test_arr = np.array(is_test, bool)
    if not is_test_arr.any():
        raise UserError(f"dataset.root={base}: no val frame has an image file; the val split is the test split")
    return ImageDataset("bdd100k_weather", ImageFiles(base, paths), labels, np.array(paths), tuple(present),
                        is_test_arr, tuple(skipped))
