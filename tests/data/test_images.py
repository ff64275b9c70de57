"""Image files: scanning, the one decoding check (check_image / inspect_image), batches for embedders."""

import numpy as np
import pytest
from PIL import Image

from al_bench.data.images import (IMAGE_EXTENSIONS, ImageFiles, batch_array, check_image, check_images,
                                  inspect_image, load_rgb, scan_images)
from al_bench.errors import UserError


@pytest.fixture
def files(tmp_path, write):
    """A good JPEG, a good grey PNG, a truncated JPEG, an empty file, a text file named .png."""
    write.jpeg(tmp_path / "good.jpg", size=(80, 40), color=(200, 100, 0))
    Image.new("L", (10, 10), 30).save(tmp_path / "grey.png")
    data = (tmp_path / "good.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    return tmp_path


def _old_inspect(path):
    """The selection command's check before it moved here, verbatim: the reference."""
    if path.stat().st_size == 0:
        return "empty file", float("nan")
    try:
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))
            im.load()
            small = im.convert("L")
            small.thumbnail((64, 64))
            return "", float(np.asarray(small, np.float64).mean())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}", float("nan")


def test_check_and_inspect_agree_with_each_other_and_the_old_check(files):
    for name in ("good.jpg", "grey.png", "truncated.jpg", "empty.png", "text.png"):
        reason, luma = inspect_image(files / name)
        old_reason, old_luma = _old_inspect(files / name)
        assert reason == old_reason and (luma == old_luma or (np.isnan(luma) and np.isnan(old_luma))), name
        if name != "empty.png":  # check_image decodes even empty files; check_images says "empty file" first
            assert check_image(files / name) == (reason or None), name
    assert inspect_image(files / "grey.png") == ("", 30.0)
    assert "truncated" in check_image(files / "truncated.jpg").lower()
    assert check_image(files / "text.png").startswith("UnidentifiedImageError: cannot identify image file")


def test_scan_and_check_images(files):
    (files / ".hidden.png").write_bytes(b"")
    (files / "notes.txt").write_text("")
    found = scan_images(files)
    assert found == ["empty.png", "good.jpg", "grey.png", "text.png", "truncated.jpg"]
    good, bad = check_images(files, found, "skip")
    assert good == ["good.jpg", "grey.png"] and dict(bad)["empty.png"] == "empty file"
    with pytest.raises(UserError, match=r"empty.png: unreadable image \(empty file\); fix or remove it, or set "
                                        r"dataset.on_bad_image=skip"):
        check_images(files, found, "error")
    assert ".webp" in IMAGE_EXTENSIONS and ".JPG" not in IMAGE_EXTENSIONS  # suffixes compare lower-cased


def test_batches_resize_files_and_keep_matching_arrays(files):
    imgs = ImageFiles(files, ["good.jpg", "grey.png"])
    out = batch_array(imgs, [1, 0], 16)
    assert out.shape == (2, 16, 16, 3) and out.dtype == np.uint8
    assert (out[0] == 30).all() and np.abs(out[1, 8, 8].astype(int) - (200, 100, 0)).max() <= 8
    arr = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)
    assert np.array_equal(batch_array(arr, [1], None), arr[[1]]) and np.array_equal(batch_array(arr, [1], 4), arr[[1]])
    assert batch_array(arr, [0, 1], 8).shape == (2, 8, 8, 3)  # grey arrays resized become RGB
    assert load_rgb(arr, 0).mode == "RGB"
    with pytest.raises(UserError, match="the embedder needs an image_size"):
        batch_array(imgs, [0], None)
