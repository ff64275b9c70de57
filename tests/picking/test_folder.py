"""Folder scan: ids, unreadable files, brightness, the scan cache, folders left out."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from picking.image_folder import DARK, N_GOOD, readable_ids

from al_bench.errors import UserError
from al_bench.picking.folder import SCAN_FILE, default_cache_dir, find_images, scan_folder


def test_scan_finds_checks_and_measures_every_image(folder, tmp_path):
    scan = scan_folder(folder, tmp_path / "cache", progress=False)
    assert scan.root == folder.resolve()
    assert len(scan.found) == N_GOOD + 2 and list(scan.found) == sorted(scan.found)
    assert not any(r.startswith(".thumbs") for r in scan.found)  # hidden entries are ignored
    assert sorted(scan.good) == sorted(readable_ids(folder)) and list(scan.good) == sorted(scan.good)
    assert dict(scan.bad).keys() == {"broken.jpg", "empty.png"} and dict(scan.bad)["empty.png"] == "empty file"
    assert scan.brightness.shape == (N_GOOD,) and scan.n_cached == 0
    dark = scan.good.index(next(r for r in scan.good if DARK in r))
    assert scan.brightness[dark] == pytest.approx(3.0, abs=0.5)
    assert np.delete(scan.brightness, dark).min() > 30


def test_second_scan_comes_from_the_cache_and_notices_changes(folder, tmp_path):
    root = shutil.copytree(folder, tmp_path / "imgs")
    cache = tmp_path / "cache"
    first = scan_folder(root, cache, progress=False)
    again = scan_folder(root, cache, progress=False)
    assert again.n_cached == N_GOOD + 2 and again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.brightness, first.brightness)
    assert again.bad == first.bad
    victim = root / first.good[0]
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = scan_folder(root, cache, progress=False)
    assert changed.n_cached == N_GOOD + 1 and changed.fingerprint != first.fingerprint


def test_a_damaged_scan_cache_is_rebuilt(folder, tmp_path):
    cache = tmp_path / "cache"
    scan_folder(folder, cache, progress=False)
    (path,) = cache.rglob(SCAN_FILE)
    path.write_text("id,size\nx,notanumber\n")
    said = []
    scan = scan_folder(folder, cache, progress=False, say=said.append)
    assert scan.n_cached == 0 and len(said) == 1 and "ignoring an unreadable scan cache" in said[0]
    assert scan_folder(folder, cache, progress=False).n_cached == N_GOOD + 2


def test_output_folders_inside_the_tree_are_left_out(folder, tmp_path):
    root = shutil.copytree(folder, tmp_path / "imgs")
    (root / "selection").mkdir()
    shutil.copy(root / "cam_b" / "img_000.png", root / "selection" / "mosaic.png")
    said = []
    _, ids = find_images(root, [root / "selection", tmp_path / "elsewhere"], say=said.append)
    assert not any(r.startswith("selection/") for r in ids) and len(ids) == N_GOOD + 2
    assert said == ["left out 1 output folder(s) (selection/)"]
    _, all_ids = find_images(root)
    assert "selection/mosaic.png" in all_ids
    # once marked (as every folder the command writes is), it is left out under any name, at any depth
    (root / "selection" / ".al_bench_output").write_text("")
    shutil.move(root / "selection", root / "cam_a" / "old_batch")
    said.clear()
    _, ids = find_images(root, say=said.append)
    assert not any("old_batch" in r for r in ids) and len(ids) == N_GOOD + 2
    assert said == ["left out 1 output folder(s) (cam_a/old_batch/)"]


def test_scan_cache_round_trips_ids_with_line_breaks_quotes_and_commas(folder, tmp_path):
    """An id holding \\r once split its row of the cache: every rerun re-checked the file."""
    root = shutil.copytree(folder, tmp_path / "imgs")
    names = ["cr\rname.png", "nl\nname.png", 'quo"te,comma.png', "crlf\r\n.png"]
    for name in names:
        shutil.copy(root / "cam_b" / "img_000.png", root / name)
    (root / "bad\r.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    cache = tmp_path / "cache"
    first = scan_folder(root, cache, progress=False)
    assert set(names) <= set(first.good) and "bad\r.jpg" in dict(first.bad)
    again = scan_folder(root, cache, progress=False)
    assert again.n_cached == len(first.found) == N_GOOD + 2 + 5
    assert again.good == first.good and again.bad == first.bad and again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.brightness, first.brightness)
    (path,) = cache.rglob(SCAN_FILE)
    assert pd.read_csv(path, keep_default_na=False)["id"].tolist() == sorted(first.found)


def test_names_not_utf8_and_links_out_are_listed_not_scanned(folder, tmp_path):
    NOT_UTF8 = "file name is not valid UTF-8"  # al_bench.data.images.NOT_UTF8

    root = shutil.copytree(folder, tmp_path / "imgs")
    shutil.copy(root / "cam_b" / "img_000.png", root / os.fsdecode(b"bad\xff.png"))
    shutil.copy(root / "cam_b" / "img_000.png", tmp_path / "outside.png")
    os.symlink(tmp_path / "outside.png", root / "out.png")
    said = []
    scan = scan_folder(root, tmp_path / "cache", progress=False, say=said.append)
    assert len(scan.found) == N_GOOD + 2 and scan.fingerprint
    assert dict(scan.left_out) == {"bad\\xff.png": NOT_UTF8,
                                   "out.png": f"symlink to {tmp_path / 'outside.png'} outside the scanned folder: "
                                              "not followed"}
    assert said == ["left out 1 symlink(s) leading outside the folder (--follow-links follows them), 1 name(s) "
                    "not valid UTF-8; the files are listed in unreadable.csv"]
    (path,) = (tmp_path / "cache").rglob(SCAN_FILE)
    path.read_bytes().decode("utf-8")  # the cache stays UTF-8
    followed = scan_folder(root, tmp_path / "cache", progress=False, follow_links=True)
    assert "out.png" in followed.good and list(dict(followed.left_out)) == ["bad\\xff.png"]
    with pytest.raises(UserError, match=r"no image files .* found; 1 left out \(first: only.png: symlink to "):
        (tmp_path / "links").mkdir()
        os.symlink(tmp_path / "outside.png", tmp_path / "links" / "only.png")
        scan_folder(tmp_path / "links", tmp_path / "cache", progress=False)


def test_missing_or_empty_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError) as err:
        find_images(tmp_path / "nope")
    assert str(err.value) == f"--images-dir: no such folder: {tmp_path / 'nope'}" and err.value.key == "--images-dir"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty: no image files \(.jpg .jpeg .png .webp .bmp\) found"):
        scan_folder(tmp_path / "empty", tmp_path / "cache", progress=False)


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AL_BENCH_CACHE", str(tmp_path / "a"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("AL_BENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "al_bench"


def test_the_decode_check_in_processes_equals_the_serial_one(folder, tmp_path, monkeypatch):
    from al_bench.picking import folder as F

    serial = F.scan_folder(folder, tmp_path / "a", progress=False)
    monkeypatch.setattr(F, "PARALLEL_FROM", 1)
    monkeypatch.setattr(F.os, "cpu_count", lambda: 2)
    parallel = F.scan_folder(folder, tmp_path / "b", progress=False)
    assert parallel.n_cached == 0 and parallel.good == serial.good and parallel.bad == serial.bad
    assert np.array_equal(parallel.brightness, serial.brightness) and parallel.fingerprint == serial.fingerprint
