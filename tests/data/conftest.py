"""Writers of real-format dataset fixtures, shared by the loader tests and the registry contract test:
CIFAR-10 python batches, a BDD100K tree with its label JSON, a class-per-folder tree with bad files."""

import json
import pickle
import types
import urllib.error

import numpy as np
import pytest
from PIL import Image

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(root, per_batch=6, n_test=10, seed=0):
    """A CIFAR-10 python-format folder (cifar-10-batches-py) with tiny batches."""
    rng = np.random.default_rng(seed)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    batches = {}
    for name, n in [*[(f"data_batch_{i}", per_batch) for i in range(1, 6)], ("test_batch", n_test)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(d / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [f"img_{i}.png".encode() for i in range(n)]}, f)
        batches[name] = (data, labels)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072}, f)
    return batches


def jpeg(path, size=(64, 36), color=(90, 120, 200)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "JPEG")


def write_bdd(root, missing=("t3.jpg",)):
    """A BDD100K tree in the official layout: labels/*.json and images/100k/{train,val}/."""
    frames = {"train": [("t0.jpg", "clear"), ("t1.jpg", "rainy"), ("t2.jpg", "undefined"), ("t3.jpg", "snowy"),
                        ("t4.jpg", "overcast"), ("t5.jpg", "clear"), ("t6.jpg", "rainy")],
              "val": [("v0.jpg", "clear"), ("v1.jpg", "rainy"), ("v2.jpg", "overcast")]}
    (root / "labels").mkdir(parents=True)
    for split, items in frames.items():
        records = [{"name": n, "attributes": {"weather": w, "scene": "city street", "timeofday": "daytime"},
                    "timestamp": 10000, "labels": [{"category": "car", "id": 1,
                                                    "box2d": {"x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 20.0}}]}
                   for n, w in items]
        (root / "labels" / f"bdd100k_labels_images_{split}.json").write_text(json.dumps(records))
        for i, (n, _) in enumerate(items):
            if n not in missing:
                jpeg(root / "images" / "100k" / split / n, color=(20 * i, 100, 150))
    return frames


def _mk(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_folder(root):
    """Two classes of small images (nested subfolder, several formats), one truncated JPEG,
    one zero-byte file, one loose image without a class folder, one hidden file."""
    for i in range(4):
        Image.new("RGB", (20, 12), (10 * i, 0, 0)).save(_mk(root / "cat" / f"c{i}.png"))
    jpeg(root / "dog" / "sub" / "d0.JPG")
    jpeg(root / "dog" / "d1.jpeg")
    Image.new("RGB", (9, 9), (0, 0, 50)).save(root / "dog" / "d2.webp")
    Image.new("L", (9, 9), 80).save(root / "dog" / "d3.bmp")
    jpeg(root / "dog" / "full.jpg", size=(64, 64))
    data = (root / "dog" / "full.jpg").read_bytes()
    (root / "dog" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "cat" / "empty.png").write_bytes(b"")
    Image.new("RGB", (5, 5)).save(root / "loose.png")
    Image.new("RGB", (5, 5)).save(_mk(root / "cat" / ".hidden" / "h.png"))
    (root / "dog" / "notes.txt").write_text("not an image")


def write_npz(path, n=30, seed=0):
    """An .npz with 30 random 4×4 RGB images, three string classes and the last 6 marked as test."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    labels = np.array(["cat", "dog", "emu"] * (n // 3))
    np.savez(path, images=images, labels=labels, is_test=np.arange(n) >= n - 6)
    return images, labels


@pytest.fixture
def write():
    """The writers: ``write.cifar(root)``, ``write.bdd(root)``, ``write.folder(root)``, ``write.npz(path)``,
    ``write.jpeg(path)``; ``write.cifar_names`` are the class names ``write.cifar`` records."""
    return types.SimpleNamespace(cifar=write_cifar, bdd=write_bdd, folder=write_folder, npz=write_npz, jpeg=jpeg,
                                 cifar_names=tuple(CIFAR_NAMES))


@pytest.fixture
def offline_cifar(monkeypatch):
    """No network: CIFAR-10 downloads fail at once, as they do on this project's machines."""
    from al_bench.data.loaders import cifar10

    def offline(root):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(cifar10, "download_cifar10", offline)
    return offline
