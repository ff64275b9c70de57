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


def test_folder_leaves_out_links_out_names_not_utf8_and_output_folders(tmp_path, caplog, write):
    """The same scan as al-bench-select's: listed in skipped (the run's skipped.csv), never a crash."""
    import os

    from PIL import Image

    NOT_UTF8, OUTPUT_MARKER = "file name is not valid UTF-8", ".al_bench_output"  # as al_bench.data.images says

    root = tmp_path / "imgs"
    write.folder(root)
    Image.new("RGB", (9, 9), (0, 90, 0)).save(tmp_path / "outside.png")
    (tmp_path / "elsewhere").mkdir()
    Image.new("RGB", (9, 9), (0, 0, 90)).save(tmp_path / "elsewhere" / "e.png")
    os.symlink(tmp_path / "outside.png", root / "cat" / "linked.png")
    os.symlink(tmp_path / "elsewhere", root / "dog" / "linked_dir")
    os.symlink(root / "cat" / "c0.png", root / "dog" / "inside.png")  # a link inside the root is fine
    Image.new("RGB", (9, 9)).save(root / "dog" / os.fsdecode(b"bad\xff.png"))
    (root / "selection").mkdir()  # an al-bench-select --out inside the root: not a class
    Image.new("RGB", (9, 9)).save(root / "selection" / "mosaic.png")
    (root / "selection" / OUTPUT_MARKER).write_text("")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset("folder", root=str(root))
    assert ds.class_names == ("cat", "dog") and "dog/inside.png" in ds.ids.tolist()
    assert not any("linked" in r or "bad" in r or "mosaic" in r for r in ds.ids.tolist())
    skipped = dict(ds.skipped)
    assert skipped["dog/bad\\xff.png"] == NOT_UTF8
    assert skipped["cat/linked.png"].startswith("symlink to ") and "not followed" in skipped["cat/linked.png"]
    assert "dog/linked_dir/" in skipped and len(skipped) == 5  # with the empty and the truncated file
    assert all(s.encode("utf-8") and why.encode("utf-8") for s, why in ds.skipped)  # writable as UTF-8
    assert len(ds.images.fingerprint()) == 64
    assert "left out 1 output folder(s) (selection/); 2 symlink(s) leading outside the folder, 1 name(s) " \
           "not valid UTF-8 under" in caplog.text
    # with follow_links the links out are read as images of their class folder
    ds = load_dataset("folder", root=str(root), follow_links=True)
    assert {"cat/linked.png", "dog/linked_dir/e.png"} <= set(ds.ids.tolist())
    assert "cat/linked.png" not in dict(ds.skipped)
