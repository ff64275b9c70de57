import json
import logging

import numpy as np
import pytest

from al_bench.data import load_dataset
from al_bench.data.images import ImageFiles, batch_array
from al_bench.data.loaders.bdd100k_weather import BDD_WEATHER
from al_bench.errors import UserError


def test_bdd100k_weather_official_layout(tmp_path, caplog, write):
    write.bdd(tmp_path / "bdd")
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


def test_bdd100k_errors_name_the_place(tmp_path, write):
    with pytest.raises(UserError, match="no bdd100k_labels_images_train.json"):
        load_dataset("bdd100k_weather", root=str(tmp_path))
    write.bdd(tmp_path / "bdd")
    (tmp_path / "bdd" / "labels" / "bdd100k_labels_images_val.json").write_text(
        json.dumps([{"name": "v0.jpg", "attributes": {"weather": "sunny"}}]))
    with pytest.raises(UserError, match=r"unknown weather value\(s\) \['sunny'\]"):
        load_dataset("bdd100k_weather", root=str(tmp_path / "bdd"))
    assert BDD_WEATHER[0] == "clear" and len(BDD_WEATHER) == 7
    with pytest.raises(UserError) as err:
        load_dataset("bdd100k_weather")
    assert str(err.value) == ("dataset=bdd100k_weather needs dataset.root=DIR (the folder with labels/ and "
                              "images/100k/)")
