import numpy as np
import pytest

from al_bench.data import load_dataset
from al_bench.errors import UserError


def test_npz_loader_and_its_errors(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 4, 4, 3), dtype=np.uint8)
    labels = np.array(["cat", "dog", "emu"] * 10)
    good = tmp_path / "good.npz"
    np.savez(good, images=images, labels=labels, is_test=np.arange(30) >= 24)
    ds = load_dataset("npz", path=str(good))
    assert ds.class_names == ("cat", "dog", "emu") and ds.is_test.sum() == 6
    np.savez(tmp_path / "nolabels.npz", images=images)
    with pytest.raises(UserError, match=r"nolabels.npz: missing array\(s\) \['labels'\]"):
        load_dataset("npz", path=str(tmp_path / "nolabels.npz"))
    with pytest.raises(UserError, match="no such file"):
        load_dataset("npz", path=str(tmp_path / "absent.npz"))
    np.savez(tmp_path / "oneclass.npz", images=images, labels=np.zeros(30))
    with pytest.raises(UserError, match="at least 2 classes"):
        load_dataset("npz", path=str(tmp_path / "oneclass.npz"))
    bad = images.astype(np.float32)
    bad[0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", images=bad, labels=labels)
    with pytest.raises(UserError, match="NaN"):
        load_dataset("npz", path=str(tmp_path / "nan.npz"))


def test_npz_ids_and_class_names_from_the_file(tmp_path):
    images = np.zeros((4, 2, 2), np.uint8)
    np.savez(tmp_path / "a.npz", images=images, labels=np.array([0, 1, 1, 0]), class_names=np.array(["no", "yes"]),
             source=np.array(["w", "x", "y", "z"]))
    ds = load_dataset("npz", path=str(tmp_path / "a.npz"))
    assert ds.name == "npz:a" and ds.class_names == ("no", "yes") and ds.ids.tolist() == ["w", "x", "y", "z"]
    assert ds.images.shape == (4, 2, 2, 1)
    np.savez(tmp_path / "dup.npz", images=images, labels=np.array([0, 1, 1, 0]), source=np.array(["w"] * 4))
    assert load_dataset("npz", path=str(tmp_path / "dup.npz")).ids.tolist() == ["dup:0", "dup:1", "dup:2", "dup:3"]


def test_npz_errors_carry_their_key(tmp_path):
    with pytest.raises(UserError) as err:
        load_dataset("npz")
    assert str(err.value) == "dataset=npz needs dataset.path=FILE (an .npz with 'images' and 'labels')"
    assert (err.value.worded(lambda k: f"<{k}>")
            == "<dataset>=npz needs <dataset.path>=FILE (an .npz with 'images' and 'labels')")
    with pytest.raises(UserError) as err:
        load_dataset("npz", path=str(tmp_path / "absent.npz"))
    assert err.value.key == "dataset.path" and str(err.value).startswith("dataset.path: no such file: ")


def _float_npz(path, images):
    np.savez(path, images=images, labels=np.arange(len(images)) % 2)
    return str(path)


def test_npz_float_images_with_overshoot_load_as_without_it(tmp_path):
    """Issue 14.2: one pixel at 1.0001 (bicubic overshoot) turned a [0, 1] set into {0, 1} and the run said ok."""
    x = np.random.default_rng(0).uniform(0.0, 1.0, (10, 6, 6, 3)).astype(np.float32)
    clean = load_dataset("npz", path=_float_npz(tmp_path / "clean.npz", x)).images
    assert clean.dtype == np.uint8 and clean.max() > 200
    x[4, 1, 2, 0] = 1.0001
    over = load_dataset("npz", path=_float_npz(tmp_path / "over.npz", x)).images
    assert np.array_equal(over, clean) or (np.argwhere(over != clean).tolist() == [[4, 1, 2, 0]]
                                           and over[4, 1, 2, 0] == 255)
    assert np.array_equal(load_dataset("npz", path=str(tmp_path / "over.npz"), pixel_range="0-1").images, over)


def test_npz_ambiguous_float_images_fail_naming_pixel_range(tmp_path):
    x = np.random.default_rng(0).uniform(0.0, 1.0, (10, 6, 6, 3))
    x[0, 0, 0, 0] = 7.0  # a stray value: neither [0, 1] nor [0, 255]
    path = _float_npz(tmp_path / "odd.npz", x)
    with pytest.raises(UserError) as err:
        load_dataset("npz", path=path)
    assert err.value.key == "dataset.pixel_range" and "\n" not in str(err.value)
    assert "set dataset.pixel_range=0-1 or 0-255" in str(err.value)
    with pytest.raises(UserError, match=r"^dataset.pixel_range: .*odd.npz: 'images' span \[0\.\d+, 7\], beyond 0-1"):
        load_dataset("npz", path=path, pixel_range="0-1")
    levels = load_dataset("npz", path=path, pixel_range="0-255").images  # explicit: read as grey levels
    assert levels.max() == 7


def test_npz_pixel_range_values_are_checked_before_reading(tmp_path):
    with pytest.raises(UserError) as err:
        load_dataset("npz", path=str(tmp_path / "absent.npz"), pixel_range="255")
    assert str(err.value) == "dataset.pixel_range: '255': choose one of ['auto', '0-1', '0-255']"


def test_npz_uint8_images_are_unchanged_by_pixel_range(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    np.savez(tmp_path / "u8.npz", images=images, labels=np.arange(10) % 2)
    for pixel_range in ("auto", "0-255"):
        ds = load_dataset("npz", path=str(tmp_path / "u8.npz"), pixel_range=pixel_range)
        assert ds.images.dtype == np.uint8 and np.array_equal(ds.images, images)
