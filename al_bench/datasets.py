"""Dataset loaders by config name: digits, npz, cifar10, bdd100k_weather, folder and auto.

A loader's keyword arguments are its options in ``conf/dataset/<name>.yaml``; ``data_dir``
(``paths.data_dir``) is passed by the caller to loaders that take it, never set in the config.
Loaders fail with a one-line :class:`UserError` that says where they looked and what to do.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .data import ImageDataset, _encode_labels, load_digits, load_npz
from .errors import UserError
from .images import IMAGE_EXTENSIONS, ImageFiles, check_image
from .results import write_csv

log = logging.getLogger(__name__)

__all__ = ["LOADERS", "load_dataset", "loader_options", "load_cifar10", "load_bdd100k_weather", "load_folder",
           "load_auto", "BDD_WEATHER"]

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"

BDD_WEATHER = ("clear", "partly cloudy", "overcast", "rainy", "snowy", "foggy", "undefined")
BDD_LABEL_FILES = {"train": "bdd100k_labels_images_train.json", "val": "bdd100k_labels_images_val.json"}


# -- CIFAR-10 --------------------------------------------------------------------------------
def _cifar_present(root: Path) -> bool:
    d = root / CIFAR_DIR
    return all((d / f).is_file() for f in (*CIFAR_TRAIN, CIFAR_TEST))


def _download_cifar(root: Path) -> None:
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


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
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


def load_cifar10(root: str | None = None, download: bool = False, data_dir: Path | None = None) -> ImageDataset:
    """CIFAR-10 in the official python format under ``root`` (default ``<data_dir>/cifar10``).

    Official train batches are pool candidates, the official test batch is the test split.
    """
    base = Path(root).expanduser() if root else Path(data_dir or "data") / "cifar10"
    if not _cifar_present(base) and download:
        log.info("dataset cifar10: downloading into %s", base)
        try:
            _download_cifar(base)
        except Exception as exc:  # offline, proxy, disk full: say so in one line
            raise UserError(
                f"dataset=cifar10: download into {base} failed ({type(exc).__name__}: {exc}); download "
                f"cifar-10-python.tar.gz elsewhere and extract it there, or use dataset=npz dataset.path=FILE "
                f"or dataset=digits") from exc
    if not _cifar_present(base):
        raise UserError(
            f"dataset=cifar10: no CIFAR-10 at {(base / CIFAR_DIR).resolve()}; run with dataset.download=true on a "
            f"machine with a network (or copy {CIFAR_DIR}/ there), or use dataset=npz dataset.path=FILE or "
            f"dataset=digits")
    d = base / CIFAR_DIR
    parts = [_read_cifar_batch(d / f) for f in (*CIFAR_TRAIN, CIFAR_TEST)]
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


# -- BDD100K weather --------------------------------------------------------------------------
def _bdd_label_file(root: Path, split: str) -> Path | None:
    name = BDD_LABEL_FILES[split]
    for cand in (root / "labels" / name, root / name, root / "labels" / "100k" / name):
        if cand.is_file():
            return cand
    return None


def _bdd_image_dir(root: Path, split: str) -> Path:
    for cand in (root / "images" / "100k" / split, root / "images" / split):
        if cand.is_dir():
            return cand
    return root / "images" / "100k" / split


def _bdd_weather(label_file: Path, data_dir: Path | None) -> pd.DataFrame:
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
    return bool(root) and _bdd_label_file(Path(root).expanduser(), "train") is not None


def load_bdd100k_weather(root: str | None = None, drop_undefined: bool = True,
                         data_dir: Path | None = None) -> ImageDataset:
    """BDD100K images labeled by the frame attribute ``weather`` from the official label JSON.

    Official train = pool candidates, official val = test (the test labels are not public).
    Frames whose image file is missing are left out, counted and reported.
    """
    if not root:
        raise UserError("dataset=bdd100k_weather needs dataset.root=DIR (the folder with labels/ and images/100k/)")
    base = Path(root).expanduser()
    paths, weather, is_test, skipped = [], [], [], []
    for split in ("train", "val"):
        lf = _bdd_label_file(base, split)
        if lf is None:
            raise UserError(f"dataset.root={base}: no {BDD_LABEL_FILES[split]} in {base}/labels or {base}")
        df = _bdd_weather(lf, data_dir)
        img_dir = _bdd_image_dir(base, split)
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
        raise UserError(f"dataset.root={base}: no labeled frame has an image file (looked in {_bdd_image_dir(base, 'train')})")
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


# -- a folder of class subfolders -------------------------------------------------------------
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


def load_folder(root: str | None = None, on_bad_image: str = "skip") -> ImageDataset:
    """Images in class subfolders: ``root/<class>/**/<image>``; the ids are POSIX relative paths."""
    if on_bad_image not in ("skip", "error"):
        raise UserError(f"dataset.on_bad_image={on_bad_image!r}: choose one of ['error', 'skip']")
    if not root:
        raise UserError("dataset=folder needs dataset.root=DIR (one subfolder of images per class)")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise UserError(f"dataset.root: no such folder: {base.resolve()}")
    found = scan_images(base)
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
                        None, tuple((r, why) for r, why in bad))


# -- auto -----------------------------------------------------------------------------------
def load_auto(root: str | None = None, cifar_root: str | None = None, download: bool = True,
              drop_undefined: bool = True, data_dir: Path | None = None) -> ImageDataset:
    """BDD100K weather if ``root`` holds it, else CIFAR-10 if present or downloadable, else digits."""
    if is_bdd100k(root):
        log.info("dataset auto: chose bdd100k_weather (found its labels under %s)", root)
        return load_bdd100k_weather(root, drop_undefined, data_dir)
    cifar = Path(cifar_root).expanduser() if cifar_root else Path(data_dir or "data") / "cifar10"
    if _cifar_present(cifar):
        log.info("dataset auto: chose cifar10 (found at %s)", cifar)
        return load_cifar10(str(cifar), False, data_dir)
    if download:
        try:
            _download_cifar(cifar)
            log.info("dataset auto: chose cifar10 (downloaded into %s)", cifar)
            return load_cifar10(str(cifar), False, data_dir)
        except Exception as exc:  # noqa: BLE001 - any failure means: fall back
            log.warning("dataset auto: CIFAR-10 is not at %s and could not be downloaded (%s: %s)",
                        cifar, type(exc).__name__, exc)
    log.warning("dataset auto: chose digits (no BDD100K at dataset.root=%s, no CIFAR-10 at %s); results are "
                "for 8x8 digits, not the study's data", root, cifar)
    return load_digits()


# config name → loader
LOADERS: dict[str, Callable[..., ImageDataset]] = {
    "digits": load_digits,
    "npz": load_npz,
    "cifar10": load_cifar10,
    "bdd100k_weather": load_bdd100k_weather,
    "folder": load_folder,
    "auto": load_auto,
}
INJECTED = ("data_dir",)


def loader_options(name: str) -> list[str]:
    """The option names a loader accepts from the config (its keyword arguments)."""
    return [p for p in inspect.signature(LOADERS[name]).parameters if p not in INJECTED]


def load_dataset(name: str, data_dir: Path | None = None, **options: object) -> ImageDataset:
    """Load a dataset by its config name."""
    if name not in LOADERS:
        raise UserError(f"dataset: unknown '{name}'; choose one of {sorted(LOADERS)}")
    fn = LOADERS[name]
    if "data_dir" in inspect.signature(fn).parameters:
        options = {**options, "data_dir": data_dir}
    ds = fn(**options)
    shape = ds.images.shape[1:] if isinstance(ds.images, np.ndarray) else "(files)"
    log.info("dataset %s: %d images %s, %d classes", ds.name, len(ds.labels), shape, ds.n_classes)
    return ds


def main(argv: list[str] | None = None) -> int:
    """``python -m al_bench.datasets download-cifar10 DIR``: fetch CIFAR-10, one line either way."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m al_bench.datasets", description=main.__doc__)
    ap.add_argument("command", choices=["download-cifar10"])
    ap.add_argument("root", type=Path)
    args = ap.parse_args(argv)
    if _cifar_present(args.root):
        print(f"setup: CIFAR-10 is at {args.root}")
        return 0
    try:
        _download_cifar(args.root)
    except Exception as exc:  # noqa: BLE001 - offline is an expected outcome here
        print(f"setup: offline or download failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); CIFAR-10 "
              f"not fetched. The default dataset=auto falls back to the embedded digits")
        return 1
    print(f"setup: CIFAR-10 downloaded into {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
