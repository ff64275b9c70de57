import numpy as np
import pytest

from al_bench.data import ImageDataset
from al_bench.data.dataset import _encode_labels, _to_uint8_images
from al_bench.data.images import ImageFiles
from al_bench.errors import UserError


def test_images_become_nhwc_uint8():
    grey = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert _to_uint8_images(grey, "s").shape == (2, 3, 3, 1)
    unit = np.array([0.0, 0.5, 1.0]).reshape(1, 1, 3, 1)
    assert _to_uint8_images(unit, "s").ravel().tolist() == [0, 128, 255]  # [0, 1] floats are scaled
    levels = np.array([0.0, 2.0, 254.6]).reshape(1, 1, 3, 1)
    assert _to_uint8_images(levels, "s").ravel().tolist() == [0, 2, 255]  # [0, 255] floats are rounded
    with pytest.raises(UserError, match=r"s: numeric 'images' must lie in \[0, 1\] or \[0, 255\], got \[-1, 0\]"):
        _to_uint8_images(unit - 1.0, "s")
    with pytest.raises(UserError, match=r"s: 'images' must be \(N, H, W\) or \(N, H, W, C\), got shape \(3,\)"):
        _to_uint8_images(np.zeros(3), "s")


def test_labels_are_coded_by_sorted_value():
    codes, names = _encode_labels(np.array(["dog", "cat", "dog"]), "s")
    assert codes.tolist() == [1, 0, 1] and codes.dtype == np.int64 and names == ("cat", "dog")
    with pytest.raises(UserError, match=r"s: 'labels' must be 1-D"):
        _encode_labels(np.zeros((2, 2)), "s")


def test_fingerprint_covers_images_labels_and_test_flags(tmp_path):
    images = np.zeros((4, 2, 2, 1), np.uint8)
    labels = np.array([0, 1, 0, 1])
    ids = np.array(list("abcd"))
    base = ImageDataset("x", images, labels, ids, ("0", "1"))
    fp = base.fingerprint()
    assert ImageDataset("renamed", images.copy(), labels.copy(), ids, ("0", "1")).fingerprint() == fp
    changed = images.copy()
    changed[2, 0, 0, 0] = 1
    assert ImageDataset("x", changed, labels, ids, ("0", "1")).fingerprint() != fp
    assert ImageDataset("x", images, labels[::-1].copy(), ids, ("0", "1")).fingerprint() != fp
    assert ImageDataset("x", images, labels, ids, ("0", "1"), np.array([0, 0, 0, 1], bool)).fingerprint() != fp
    # files enter by path, size and mtime
    for name in "ab":
        (tmp_path / f"{name}.png").write_bytes(b"x")
    files = ImageDataset("f", ImageFiles(tmp_path, ["a.png", "b.png"]), labels[:2], ids[:2], ("0", "1"))
    before = files.fingerprint()
    (tmp_path / "b.png").write_bytes(b"xy")
    assert files.fingerprint() != before
