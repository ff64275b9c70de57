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
