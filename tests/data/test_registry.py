"""The contract every registered dataset inherits: one name for module, registry and YAML; the YAML's
keys are the loader's options; with its defaults a loader loads or fails in one line; on generated
fixtures it loads a valid, deterministic dataset the split accepts."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from al_bench.data import DATASETS, ImageDataset, load_dataset, make_split
from al_bench.data.images import ImageFiles
from al_bench.errors import UserError

CONF = Path(__file__).resolve().parents[2] / "al_bench" / "conf" / "dataset"
# keys every dataset YAML has that belong to the split and the near-duplicate stress test, not the loader
COMMON = {"name", "test_fraction", "calibration_fraction", "near_duplicates", "near_duplicate_copies",
          "near_duplicate_noise", "imbalance", "distractors"}
NAMES = sorted(DATASETS)


def _yaml(name):
    return yaml.safe_load((CONF / f"{name}.yaml").read_text())


def fixture_options(name, tmp_path, write):
    """Options that make loader ``name`` load offline from files written under ``tmp_path``; a new loader
    without an entry here runs with its defaults."""
    if name == "npz":
        write.npz(tmp_path / "arrays.npz")
        return {"path": str(tmp_path / "arrays.npz")}
    if name == "cifar10":
        write.cifar(tmp_path / "cifar")
        return {"root": str(tmp_path / "cifar")}
    if name == "bdd100k_weather":
        write.bdd(tmp_path / "bdd")
        return {"root": str(tmp_path / "bdd")}
    if name == "folder":
        write.folder(tmp_path / "imgs")
        return {"root": str(tmp_path / "imgs")}
    if name == "auto":
        write.cifar(tmp_path / "cifar")
        return {"root": str(tmp_path / "no_bdd"), "cifar_root": str(tmp_path / "cifar"), "download": False}
    return {}


def test_yaml_stems_are_the_registry():
    assert sorted(p.stem for p in CONF.glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_yaml_keys_are_the_loader_options(name):
    conf = _yaml(name)
    assert conf["name"] == name
    assert COMMON <= set(conf), f"al_bench/conf/dataset/{name}.yaml lacks {sorted(COMMON - set(conf))}"
    assert set(conf) - COMMON == set(DATASETS.options(name))
    assert "data_dir" not in DATASETS.options(name)  # injected by the caller, never configured


@pytest.mark.parametrize("name", NAMES)
def test_defaults_load_or_fail_in_one_line(name, tmp_path, monkeypatch, offline_cifar):
    monkeypatch.chdir(tmp_path)  # nothing relative to the checkout is found by accident
    try:
        ds = load_dataset(name, data_dir=tmp_path / "data")
    except UserError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(ds, ImageDataset)


@pytest.mark.parametrize("name", NAMES)
def test_loads_a_valid_deterministic_dataset(name, tmp_path, write, offline_cifar):
    options = fixture_options(name, tmp_path, write)
    try:
        ds = load_dataset(name, data_dir=tmp_path / "data", **options)
    except UserError as err:
        pytest.fail(f"dataset {name} does not load offline ({err}): give it fixture options in fixture_options()")
    n = len(ds.labels)
    assert isinstance(ds, ImageDataset) and n > 0 and ds.name
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (n,)
    assert ds.n_classes >= 2 and all(isinstance(c, str) for c in ds.class_names)
    assert 0 <= ds.labels.min() and ds.labels.max() < ds.n_classes
    assert ds.ids.shape == (n,) and len(set(ds.ids.tolist())) == n
    if isinstance(ds.images, ImageFiles):
        assert len(ds.images) == n and all(ds.images.path(i).is_file() for i in range(n))
        assert list(ds.images.relpaths) == ds.ids.tolist()
    else:
        assert ds.images.dtype == np.uint8 and ds.images.ndim == 4 and len(ds.images) == n
    if ds.is_test is not None:
        assert ds.is_test.dtype == bool and ds.is_test.shape == (n,) and ds.is_test.any()
    assert all(isinstance(i, str) and isinstance(why, str) for i, why in ds.skipped)
    again = load_dataset(name, data_dir=tmp_path / "data", **options)
    assert again.fingerprint() == ds.fingerprint() and np.array_equal(again.ids, ds.ids)
    split = make_split(ds.labels, 0, 0.2, 0.1, ds.is_test)
    assert len(split.pool) and len(split.test)
