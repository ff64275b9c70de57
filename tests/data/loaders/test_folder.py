import logging

import numpy as np
import pytest

from al_bench.data import load_dataset
from al_bench.data.images import batch_array
from al_bench.errors import UserError


def test_folder_skips_bad_images_and_lists_them(tmp_path, caplog, write):
    write.folder(tmp_path / "imgs")
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


def test_folder_option_errors(tmp_path):
    with pytest.raises(UserError) as err:
        load_dataset("folder", root=str(tmp_path), on_bad_image="warn")
    assert str(err.value) == "dataset.on_bad_image='warn': choose one of ['error', 'skip']"
    with pytest.raises(UserError) as err:
        load_dataset("folder")
    assert str(err.value) == "dataset=folder needs dataset.root=DIR (one subfolder of images per class)"
    with pytest.raises(UserError) as err:
        load_dataset("folder", root=str(tmp_path / "absent"))
    assert err.value.key == "dataset.root"
    with pytest.raises(UserError, match=r"no images \(.jpg, .jpeg, .png, .webp, .bmp\) in class subfolders"):
        load_dataset("folder", root=str(tmp_path))
