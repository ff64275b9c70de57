"""LabelingProject against files that change under it and input meant to break it (issue 23):
images replaced after they were added, CSVs with extra cells or that are not CSVs, NUL bytes in
paths, damaged checkpoint files, negative seeds."""

import os
import shutil

import numpy as np
import pytest
from labeling.colour_folder import make_folder
from starlette.testclient import TestClient

from al_bench.errors import UserError
from al_bench.labeling import LabelingProject
from al_bench.labeling.server import create_app

BASE = "http://127.0.0.1:8765"
H = {"X-AL-Bench": "1"}


def replace_file(target: str, donor: str) -> None:
    """``target`` gets ``donor``'s bytes and a later mtime (as a user copying over it would)."""
    before = os.stat(target).st_mtime_ns
    shutil.copyfile(donor, target)
    os.utime(target, ns=(before + 5 * 10**9, before + 5 * 10**9))


def row(keys, x, key):
    return x[keys.index(key)]


@pytest.fixture
def client(project):
    with TestClient(create_app(project, autostart=False), base_url=BASE) as c:
        yield c


# -- images that change after they were added ---------------------------------------------------
def test_a_replaced_image_gets_new_features_on_reopen_and_its_label_waits_for_a_new_one(project, folder):
    root, _ = folder
    target, donor = str(root / "r_000.png"), str(root / "b_000.png")
    project.features()
    project.add_labels({target: "red"})
    t = os.stat(target).st_mtime_ns + 10**9
    os.utime(target, ns=(t, t))  # touched only: same bytes, nothing changed
    p = LabelingProject.open(project.folder)
    assert p.labels[target] == "red" and not p.items_info([target])[0].get("changed")

    replace_file(target, donor)
    p = LabelingProject.open(project.folder)
    keys, x = p.features()
    assert np.allclose(row(keys, x, target), row(keys, x, donor))  # features of the bytes on disk now
    info = p.items_info([target])[0]
    assert info["changed"] is True and info["label"] is None and info["earlier_label"] == "red"
    assert target not in p.labels and target in p.unlabeled_set
    p.add_labels({target: "blue"})  # labeled again: confirmed
    info = p.items_info([target])[0]
    assert info["changed"] is False and info["label"] == "blue" and p.labels[target] == "blue"
    assert p.undo_last() == target  # back to the label of the earlier version: waiting again
    assert p.items_info([target])[0]["changed"] is True and target not in p.labels


def test_re_adding_the_folder_or_fitting_sees_a_replaced_image_and_fits_without_its_old_label(project, folder):
    root, truth = folder
    labeled = [str(root / f"{c}_{k:03d}.png") for c in "rgb" for k in range(3)]
    project.add_labels({k: truth[k] for k in labeled})
    assert project.fit().n_labeled == 9
    replace_file(labeled[0], str(root / "b_010.png"))
    project.add_folder(root)  # the same folder again: its changed file is found
    keys, x = project.features()
    assert np.allclose(row(keys, x, labeled[0]), row(keys, x, str(root / "b_010.png")))
    assert project.needs_fit() and project.fit().n_labeled == 8
    replace_file(labeled[1], str(root / "g_010.png"))
    assert project.fit().n_labeled == 7  # checked before fitting, no re-add needed


def test_a_changed_image_reopens_its_batch_or_comes_back_in_the_next_batch(project, folder):
    root, truth = folder
    first = project.next_batch()
    project.add_labels({k: truth[k] for k in first.ids})
    second = project.next_batch()
    project.add_labels({k: truth[k] for k in second.ids})
    replace_file(second.ids[0], str(root / "g_019.png"))  # in the last batch: that batch is open again
    assert project.next_batch() is None
    item = project.items_info(project.last_selection().ids)[0]
    assert item["changed"] and item["label"] is None and item["earlier_label"] == truth[second.ids[0]]
    project.add_labels({second.ids[0]: "green"})
    replace_file(first.ids[2], str(root / "g_018.png"))  # in an earlier batch: brought back first
    again = project.next_batch()
    assert again.ids == (first.ids[2],) and again.strategy == "changed" and again.name == "changed-1"
    assert project.next_batch() is None  # that batch waits for its label
    project.add_labels({first.ids[2]: "green"})
    assert project.next_batch().name == "batch-3"


# -- CSVs and folders ---------------------------------------------------------------------------
def test_a_csv_row_with_extra_cells_is_refused_by_its_line_number(project):
    with pytest.raises(UserError, match="line 3: 3 cells") as e:
        project.add_csv(text="path,label\n/a.png,red\n/x.png,cat,dog\n")
    assert "dog" not in str(e.value)
    assert project.problems() == []


def test_a_folder_added_three_times_lists_its_unreadable_file_once(tmp_path):
    d = tmp_path / "imgs"
    make_folder(d, per_class=1)
    (d / "broken.png").write_bytes(b"not a png")
    p = LabelingProject.open(tmp_path / "p")
    for _ in range(3):
        p.add_folder(d)
    assert [n for n, _ in p.problems()] == ["broken.png"]
    assert [s["n_items"] for s in p.sources()] == [3]


def test_a_file_that_is_not_a_csv_is_refused_without_echoing_its_content(project, client, tmp_path):
    secret = tmp_path / "notes.txt"
    secret.write_text("hunter2:x:0:0:root:/root\nsecond line\n")
    with pytest.raises(UserError, match="line 1") as e:
        project.add_csv(secret)
    assert "hunter2" not in str(e.value)
    r = client.post("/api/sources", json={"csv_path": str(secret)}, headers=H)
    assert r.status_code == 400 and "hunter2" not in r.text and "notes.txt" in r.text


def test_a_csv_path_that_is_not_a_regular_file_or_too_large_is_refused(project, tmp_path, monkeypatch):
    import al_bench.labeling.sources as mod  # the room that reads CSV files

    with pytest.raises(UserError, match="not a regular file"):
        project.add_csv("/dev/null")  # a device (a FIFO or /dev/zero would be read for ever)
    big = tmp_path / "big.csv"
    big.write_text("path\n" + "/x.png\n" * 10)
    monkeypatch.setattr(mod, "MAX_CSV_BYTES", 20, raising=False)
    with pytest.raises(UserError, match="larger than"):
        project.add_csv(big)


def test_a_nul_byte_in_a_path_is_a_user_error(project, client, tmp_path):
    bad = str(tmp_path) + "/a\0b"
    for call in (lambda: project.add_folder(bad), lambda: project.add_csv(bad + ".csv"),
                 lambda: project.export_labels("csv", dest=bad + ".csv"),
                 lambda: project.export_labels("imagefolder", dest=bad), lambda: project.export_model(bad + ".pt")):
        with pytest.raises(UserError, match="NUL"):
            call()
    for body in ({"folder": bad}, {"csv_path": bad}):
        r = client.post("/api/sources", json=body, headers=H)
        assert r.status_code == 400 and "NUL" in r.json()["error"] and "\n" not in r.json()["error"]


# -- checkpoints and seeds ----------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_restoring_a_damaged_checkpoint_is_a_user_error_and_changes_nothing(project, client, folder, damage):
    root, truth = folder
    keys = sorted(truth)[:3]
    project.add_labels({k: truth[k] for k in keys})
    project.checkpoint("a")
    project.add_labels({sorted(truth)[3]: truth[sorted(truth)[3]]})
    (file,) = (project.folder / "checkpoints").glob("*.sqlite")
    data = file.read_bytes()
    file.write_bytes(b"this is not a database\n" * 200 if damage == "garbage" else data[: len(data) // 2])
    labels = project.labels
    with pytest.raises(UserError, match="checkpoint 'a'"):
        project.restore("a")
    assert project.labels == labels and [c["name"] for c in project.checkpoints()] == ["a"]
    r = client.post("/api/restore", json={"name": "a"}, headers=H)
    assert r.status_code == 400 and "checkpoint 'a'" in r.json()["error"]
    assert project.labels == labels


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_a_seed_that_is_not_a_whole_number_from_0_is_a_user_error(project, seed):
    with pytest.raises(UserError, match="seed"):
        project.query("random", 3, seed=seed)
    with pytest.raises(UserError, match="seed"):
        LabelingProject.open(project.folder.parent / "other").setup("x", "a,b", embedder="pixels", seed=seed)
    assert project.selections() == []


def test_the_page_state_says_which_batch_image_changed(project, folder, client):
    """/api/state passes the project's changed / earlier_label / revision through to the page
    (it built each batch item from id, name and label only, so the notice never showed)."""
    root, truth = folder
    batch = project.next_batch()
    project.add_labels({k: truth[k] for k in batch.ids})
    replace_file(batch.ids[0], str(root / "g_019.png"))
    project.check_files()
    items = {it["id"]: it for it in client.get("/api/state").json()["batch"]["items"]}
    assert len(items) == len(batch.ids)
    changed = [it for it in items.values() if it["changed"]]
    assert len(changed) == 1 and changed[0]["label"] is None and changed[0]["earlier_label"] == truth[batch.ids[0]]
    assert changed[0]["revision"] == 1 and all(it["revision"] == 0 for it in items.values() if not it["changed"])
