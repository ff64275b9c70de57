"""Image files: scanning, the one decoding check (check_image / inspect_image), batches for embedders."""

import os

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


# -- what a scan leaves out (issue 14, items 4 and 5) -----------------------------------------
def _png(path, value=120):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 6), (value, value, value)).save(path, format="PNG")


def test_scan_leaves_out_marked_folders_and_links_leading_out(tmp_path):
    from al_bench.data.images import OUTPUT_MARKER, find_image_files, left_out_summary

    root, outside = tmp_path / "root", tmp_path / "outside"
    _png(root / "a.png")
    _png(root / "sub" / "b.png")
    _png(root / "deep" / "old_batch" / "mosaic.png")  # a previous run's --out, renamed
    (root / "deep" / "old_batch" / OUTPUT_MARKER).write_text("")
    _png(root / "out_now" / "x.png")  # excluded by path (the current --out, not marked yet)
    _png(outside / "o.png")
    _png(outside / "dir" / "p.png")
    os.symlink(root / "a.png", root / "link_in.png")
    os.symlink(root / "sub", root / "dirlink_in")
    os.symlink(outside / "o.png", root / "link_out.png")
    os.symlink(outside / "dir", root / "sub" / "dirlink_out")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(tmp_path / "gone.png", root / "dangling.png")
    found = find_image_files(root, exclude=[root / "out_now"])
    assert found.ids == ("a.png", "dirlink_in/b.png", "link_in.png", "sub/b.png")
    assert dict(found.left_out) == {
        "dangling.png": "symlink to a missing file",
        "link_out.png": f"symlink to {outside / 'o.png'} outside the scanned folder: not followed",
        "sub/dirlink_out/": f"symlink to the folder {outside / 'dir'} outside the scanned folder: not followed",
        "sub/loop/": "symlink to a folder above it (a loop): not followed",
        # reached once more through dirlink_in: listed under both names
        "dirlink_in/dirlink_out/": f"symlink to the folder {outside / 'dir'} outside the scanned folder: not followed",
        "dirlink_in/loop/": "symlink to a folder above it (a loop): not followed"}
    assert found.output_folders == ("deep/old_batch/", "out_now/")
    assert left_out_summary(found, "--follow-links") == (
        "left out 2 output folder(s) (deep/old_batch/, out_now/); 3 symlink(s) leading outside the folder "
        "(--follow-links follows them), 1 broken symlink(s), 2 symlink loop(s)")
    followed = find_image_files(root, follow_links=True, exclude=[root / "out_now"])
    assert {"link_out.png", "sub/dirlink_out/p.png", "dirlink_in/dirlink_out/p.png"} <= set(followed.ids)
    assert not any("mosaic" in r or r.startswith("out_now/") for r in followed.ids)
    everything = sorted(found.ids + ("out_now/x.png",))
    assert scan_images(root) == everything  # no exclusion by path here
    # the root's own marker is ignored: the caller asked for that folder
    (root / OUTPUT_MARKER).write_text("")
    assert list(find_image_files(root).ids) == everything


def test_scan_lists_names_that_are_not_utf8_instead_of_crashing(tmp_path):
    from al_bench.data.images import NOT_UTF8, find_image_files, printable_id

    _png(tmp_path / "ok.png")
    _png(tmp_path / os.fsdecode(b"bad\xff.png"))
    _png(tmp_path / os.fsdecode(b"dir\xfe") / "x.jpg")
    found = find_image_files(tmp_path)
    assert found.ids == ("ok.png",)
    assert found.left_out == (("bad\\xff.png", NOT_UTF8), ("dir\\xfe/x.jpg", NOT_UTF8))
    assert printable_id("plain/é.png") == "plain/é.png"
    assert scan_images(tmp_path) == ["ok.png"]


def test_16_bit_grey_images_are_scaled_not_clipped_to_white(tmp_path):
    from PIL import Image

    from al_bench.data.images import ImageFiles, inspect_image, load_rgb

    grey = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "g8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")  # the same picture in 16 bits
    files = ImageFiles(tmp_path, ["g8.png", "g16.png"])
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    a8, a16 = (np.asarray(load_rgb(files, i), np.int16) for i in (0, 1))
    assert np.abs(a8 - a16).max() <= 1 and a16.mean() < 200  # not all 255
    assert abs(inspect_image(tmp_path / "g8.png")[1] - inspect_image(tmp_path / "g16.png")[1]) < 1
