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
    with pytest.raises(UserError, match=r"^dataset.pixel_range: s: cannot tell the pixel range of 'images' spanning "
                                        r"\[-1, 0\]"):
        _to_uint8_images(unit - 1.0, "s")
    with pytest.raises(UserError, match=r"s: 'images' must be \(N, H, W\) or \(N, H, W, C\), got shape \(3,\)"):
        _to_uint8_images(np.zeros(3), "s")


def _unit_images(seed=0):
    """(20, 8, 8, 3) float32 in [0, 1]: what a resampled, normalized dataset looks like."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (20, 8, 8, 3)).astype(np.float32)


def test_one_overshooting_pixel_does_not_flip_the_range():
    """Issue 14.2: a [0, 1] set with one pixel at 1.0001 (bicubic overshoot) read as [0, 255] became {0, 1}."""
    x = _unit_images()
    expected = _to_uint8_images(x, "s")
    assert expected.max() > 200  # read as [0, 1]
    x[3, 2, 1, 0] = 1.0001
    got = _to_uint8_images(x, "s")
    expected[3, 2, 1, 0] = 255  # the overshoot is clipped
    assert np.array_equal(got, expected)
    x[0, 0, 0, 0] = -0.05  # undershoot too
    expected[0, 0, 0, 0] = 0
    assert np.array_equal(_to_uint8_images(x, "s"), expected)
    assert np.array_equal(_to_uint8_images(x, "s", "0-1"), expected)


def test_auto_reads_0_255_numbers_by_their_spread_not_their_maximum():
    levels = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3))
    for x in (levels.astype(np.float32), levels.astype(np.int64), levels.astype(np.uint16)):
        assert np.array_equal(_to_uint8_images(x, "s"), levels.astype(np.uint8))
    over = levels.astype(np.float64)
    over[0, 0, 0, 0] = 262.0  # overshoot in [0, 255] units is clipped too
    assert _to_uint8_images(over, "s")[0, 0, 0, 0] == 255
    binary = np.arange(2 * 4 * 4).reshape(2, 4, 4) % 2  # {0, 1} integers: a [0, 1] mask
    assert set(_to_uint8_images(binary, "s").ravel().tolist()) == {0, 255}


@pytest.mark.parametrize("case", ["stray_pixel", "stray_bright_pixel", "between", "negative", "beyond_255"])
def test_ambiguous_numbers_fail_naming_the_option(case):
    x = _unit_images().astype(np.float64)
    if case == "stray_pixel":  # [0, 1] data with one pixel at 3: neither range, never silently [0, 255]
        x[0, 0, 0, 0] = 3.0
    elif case == "stray_bright_pixel":
        x[0, 0, 0, 0] = 200.0
    elif case == "between":  # everything in [0, 1.4]
        x *= 1.4
    elif case == "negative":  # mean/std-normalized data
        x = (x - 0.5) / 0.25
    else:
        x *= 400.0
    with pytest.raises(UserError) as err:
        _to_uint8_images(x, "f.npz")
    msg = str(err.value)
    assert err.value.key == "dataset.pixel_range" and "\n" not in msg
    assert msg.startswith("dataset.pixel_range: f.npz: cannot tell the pixel range") and \
        msg.endswith("set dataset.pixel_range=0-1 or 0-255, or rescale the data")


def test_explicit_ranges_are_used_and_checked():
    x = _unit_images()
    as_unit = _to_uint8_images(x, "s", "0-1")
    assert np.array_equal(as_unit, _to_uint8_images(x, "s"))
    dark = _to_uint8_images(x, "s", "0-255")  # the user says [0, 255]: honoured (near black)
    assert np.array_equal(dark, np.rint(x.astype(np.float64)).astype(np.uint8))
    with pytest.raises(UserError, match=r"^dataset.pixel_range: s: 'images' span \[0, 250\], beyond 0-1 .* "
                                        r"set dataset.pixel_range=0-255$"):
        _to_uint8_images(np.array([0.0, 250.0]).reshape(1, 1, 2, 1), "s", "0-1")
    with pytest.raises(UserError, match=r"beyond 0-255 .* set dataset.pixel_range=0-1$"):
        _to_uint8_images(np.array([0.0, 400.0]).reshape(1, 1, 2, 1), "s", "0-255")
    with pytest.raises(UserError, match=r"^dataset.pixel_range: '0-100': choose one of \['auto', '0-1', '0-255'\]$"):
        _to_uint8_images(x, "s", "0-100")
    mask = (np.arange(16).reshape(1, 4, 4) % 2).astype(np.uint8)  # uint8 read as [0, 1] only when asked
    assert _to_uint8_images(mask, "s", "0-1").max() == 255 and _to_uint8_images(mask, "s").max() == 1


def test_uint8_images_are_kept_byte_for_byte():
    x = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    for pixel_range in ("auto", "0-255"):
        out = _to_uint8_images(x, "s", pixel_range)
        assert out is x or (out.dtype == np.uint8 and np.array_equal(out, x))
    low = np.zeros((2, 3, 3), np.uint8)  # a uint8 set whose max is 1 stays as it is under auto
    low[0, 0, 0] = 1
    assert _to_uint8_images(low, "s").max() == 1


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
