"""Real-format loaders on fixtures the tests write: CIFAR-10 python batches, a BDD100K tree with
its label JSON, and a class-per-folder tree with a truncated JPEG and a zero-byte file."""

import json
import logging
import pickle
import urllib.error

import numpy as np
import pytest
from PIL import Image

from al_bench import datasets
from al_bench.data import make_split
from al_bench.datasets import BDD_WEATHER, load_dataset
from al_bench.errors import UserError
from al_bench.images import ImageFiles, batch_array

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


def test_cifar10_reads_the_official_python_format(tmp_path):
    batches = write_cifar(tmp_path / "c")
    ds = load_dataset("cifar10", root=str(tmp_path / "c"))
    assert ds.name == "cifar10" and ds.images.shape == (40, 32, 32, 3) and ds.class_names == tuple(CIFAR_NAMES)
    assert ds.is_test.sum() == 10 and ds.is_test[-10:].all()
    data, labels = batches["data_batch_2"]
    # row-major CHW planes → HWC: pixel (r, c) of channel k is data[k*1024 + r*32 + c]
    img = ds.images[6]
    assert img[3, 5, 1] == data[0, 1024 + 3 * 32 + 5] and ds.labels[6] == labels[0]
    assert ds.ids[0] == "cifar10:train:00000" and ds.ids[-1] == "cifar10:test:00009"
    split = make_split(ds.labels, 0, 0.2, 0.1, ds.is_test)
    assert split.test.tolist() == list(range(30, 40))


def test_cifar10_absent_offline_says_where_and_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(UserError) as e:
        load_dataset("cifar10", root=str(tmp_path / "none"))
    msg = str(e.value)
    assert "cifar-10-batches-py" in msg and str(tmp_path / "none") in msg and "dataset.download=true" in msg
    assert "dataset=digits" in msg and "\n" not in msg

    def offline(root):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(datasets, "_download_cifar", offline)
    with pytest.raises(UserError, match=r"download into .* failed \(URLError"):
        load_dataset("cifar10", root=str(tmp_path / "none"), download=True)


def _jpeg(path, size=(64, 36), color=(90, 120, 200)):
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
                _jpeg(root / "images" / "100k" / split / n, color=(20 * i, 100, 150))
    return frames


def test_bdd100k_weather_official_layout(tmp_path, caplog):
    write_bdd(tmp_path / "bdd")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset("bdd100k_weather", data_dir=tmp_path / "data", root=str(tmp_path / "bdd"))
    assert isinstance(ds.images, ImageFiles) and len(ds.labels) == 8  # 10 frames − 1 undefined − 1 missing
    assert ds.class_names == ("clear", "overcast", "rainy")  # present classes, in BDD100K's order
    assert ds.skipped == (("images/100k/train/t3.jpg", "missing file"),)
    assert "1 labeled frame(s) have no image file" in caplog.text
    assert ds.ids[0] == "images/100k/train/t0.jpg" and ds.is_test.sum() == 3
    assert [ds.class_names[c] for c in ds.labels[:3]] == ["clear", "rainy", "overcast"]
    arr = batch_array(ds.images, [0, 7], 16)
    assert arr.shape == (2, 16, 16, 3) and arr.dtype == np.uint8
    # the parsed labels are cached; a second load reads the cache and agrees
    assert len(list((tmp_path / "data" / "bdd100k_weather").glob("*.csv"))) == 2
    again = load_dataset("bdd100k_weather", data_dir=tmp_path / "data", root=str(tmp_path / "bdd"))
    assert again.fingerprint() == ds.fingerprint()
    keep = load_dataset("bdd100k_weather", root=str(tmp_path / "bdd"), drop_undefined=False)
    assert "undefined" in keep.class_names and len(keep.labels) == 9


def test_bdd100k_errors_name_the_place(tmp_path):
    with pytest.raises(UserError, match="no bdd100k_labels_images_train.json"):
        load_dataset("bdd100k_weather", root=str(tmp_path))
    write_bdd(tmp_path / "bdd")
    (tmp_path / "bdd" / "labels" / "bdd100k_labels_images_val.json").write_text(
        json.dumps([{"name": "v0.jpg", "attributes": {"weather": "sunny"}}]))
    with pytest.raises(UserError, match=r"unknown weather value\(s\) \['sunny'\]"):
        load_dataset("bdd100k_weather", root=str(tmp_path / "bdd"))
    assert BDD_WEATHER[0] == "clear" and len(BDD_WEATHER) == 7


def write_folder(root):
    """Two classes of small images (nested subfolder, several formats), one truncated JPEG,
    one zero-byte file, one loose image without a class folder, one hidden file."""
    for i in range(4):
        Image.new("RGB", (20, 12), (10 * i, 0, 0)).save(_mk(root / "cat" / f"c{i}.png"))
    _jpeg(root / "dog" / "sub" / "d0.JPG")
    _jpeg(root / "dog" / "d1.jpeg")
    Image.new("RGB", (9, 9), (0, 0, 50)).save(root / "dog" / "d2.webp")
    Image.new("L", (9, 9), 80).save(root / "dog" / "d3.bmp")
    _jpeg(root / "dog" / "full.jpg", size=(64, 64))
    data = (root / "dog" / "full.jpg").read_bytes()
    (root / "dog" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "cat" / "empty.png").write_bytes(b"")
    Image.new("RGB", (5, 5)).save(root / "loose.png")
    Image.new("RGB", (5, 5)).save(_mk(root / "cat" / ".hidden" / "h.png"))
    (root / "dog" / "notes.txt").write_text("not an image")


def _mk(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_folder_skips_bad_images_and_lists_them(tmp_path, caplog):
    write_folder(tmp_path / "imgs")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset("folder", root=str(tmp_path / "imgs"))
    assert ds.class_names == ("cat", "dog")
    assert sorted(ds.ids.tolist()) == ["cat/c0.png", "cat/c1.png", "cat/c2.png", "cat/c3.png", "dog/d1.jpeg",
                                       "dog/d2.webp", "dog/d3.bmp", "dog/full.jpg", "dog/sub/d0.JPG"]
    bad = dict(ds.skipped)
    assert set(bad) == {"cat/empty.png", "dog/truncated.jpg"} and bad["cat/empty.png"] == "empty file"
    assert "truncated" in bad["dog/truncated.jpg"].lower()
    assert "loose.png" in caplog.text and "2 unreadable image(s)" in caplog.text
    assert batch_array(ds.images, np.arange(len(ds.ids)), 8).shape == (9, 8, 8, 3)
    with pytest.raises(UserError, match=r"empty.png: unreadable image \(empty file\)"):
        load_dataset("folder", root=str(tmp_path / "imgs"), on_bad_image="error")
    with pytest.raises(UserError, match="no such folder"):
        load_dataset("folder", root=str(tmp_path / "absent"))


def test_auto_prefers_bdd_then_cifar_then_digits(tmp_path, caplog):
    write_bdd(tmp_path / "bdd")
    write_cifar(tmp_path / "cifar")
    with caplog.at_level(logging.INFO):
        assert load_dataset("auto", root=str(tmp_path / "bdd"), cifar_root=str(tmp_path / "cifar"),
                            download=False).name == "bdd100k_weather"
        assert load_dataset("auto", root=str(tmp_path / "nothing"), cifar_root=str(tmp_path / "cifar"),
                            download=False).name == "cifar10"
        ds = load_dataset("auto", root=None, cifar_root=str(tmp_path / "none"), download=False)
    assert ds.name == "digits"
    assert "dataset auto: chose cifar10" in caplog.text and "dataset auto: chose digits" in caplog.text
