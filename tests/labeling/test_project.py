"""LabelingProject: sources, queries, labels, fit, checkpoints, exports, durability."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from labeling.colour_folder import CLASSES, make_folder
from PIL import Image

from al_bench.errors import UserError
from al_bench.labeling import LabelingProject, load_model
from al_bench.labeling.project import parse_labels, safe_file_name


def label_all(p, sel, truth):
    p.add_labels({k: truth[k] for k in sel.ids})


# -- setup and sources --------------------------------------------------------------------------
def test_labels_typed_one_per_line_or_with_commas_keep_order_and_drop_repeats():
    assert parse_labels("cat, dog\n bird\r\ncat,,") == ["cat", "dog", "bird"]
    with pytest.raises(UserError, match="'/'"):
        parse_labels("a/b, c")


def test_setup_needs_two_labels_and_known_names(tmp_path):
    p = LabelingProject.open(tmp_path / "p")
    with pytest.raises(UserError, match="at least 2 labels"):
        p.setup("x", "only")
    with pytest.raises(UserError, match="unknown strategy"):
        p.setup("x", "a,b", strategy="nosuch")
    assert not p.is_setup  # nothing half-written
    p.setup("x", "a,b", strategy="margin", batch_size=5, embedder="pixels")
    assert p.settings["classes"] == ["a", "b"] and p.settings["strategy"] == "margin"


def test_a_folder_with_an_unreadable_file_and_odd_names_adds_the_readable_ones(tmp_path):
    d = tmp_path / "imgs"
    make_folder(d, per_class=2)
    (d / "broken.png").write_bytes(b"not a png")
    odd = d / "sub dir" / "it's <a> & b.png"
    odd.parent.mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(odd)
    p = LabelingProject.open(tmp_path / "p")
    rep = p.add_folder(d)
    assert rep.added == 7 and [n for n, _ in rep.skipped] == ["broken.png"]
    assert str(odd) in p.items and p.problems()[0][0] == "broken.png"
    again = p.add_folder(d)  # the same folder twice adds nothing twice
    assert again.added == 0 and again.already == 7


def test_csv_source_labels_become_the_labeled_set_and_bad_csvs_say_what_is_wrong(tmp_path, folder):
    root, truth = folder
    p = LabelingProject.open(tmp_path / "p")
    p.setup("x", CLASSES, embedder="pixels")
    files = sorted(truth)[:4]
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("path,label\n" + "\n".join(f"{Path(f).relative_to(tmp_path)},{truth[f]}" for f in files[:2])
                        + f"\n{Path(files[2]).relative_to(tmp_path)},\nmissing.png,red\n")
    rep = p.add_csv(csv_file)
    assert rep.added == 3 and rep.labeled == 2 and rep.skipped == (("missing.png", "no such file"),)
    assert p.labels == {files[0]: truth[files[0]], files[1]: truth[files[1]]}
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label,comment\nx.png,red,hi\n")
    with pytest.raises(UserError, match=r"unknown: \['comment'\]"):
        p.add_csv(bad)
    bad.write_text(f"path,label\n{files[3]},purple\n")
    with pytest.raises(UserError, match="purple"):
        p.add_csv(bad)
    assert len(p.items) == 3  # the failing CSVs added nothing


def test_uploads_get_safe_unused_names_and_non_images_are_refused(tmp_path):
    import io

    p = LabelingProject.open(tmp_path / "p")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(buf, format="PNG")
    assert safe_file_name("../../etc/passwd.png") == "passwd.png"
    assert safe_file_name("..\\..\\.hidden .PNG") == "hidden_.png"
    r1 = p.add_upload("../../x/a b.png", buf.getvalue())
    r2 = p.add_upload("a b.png", buf.getvalue())
    assert r1.added == r2.added == 1
    names = sorted(Path(k).name for k in p.items)
    assert names == ["a_b-1.png", "a_b.png"] and all(Path(k).parent == p.folder / "uploads" for k in p.items)
    assert p.add_upload("evil.png", b"<script>").skipped[0][0] == "evil.png"
    assert p.add_upload("notes.txt", buf.getvalue()).added == 0
    assert sorted(f.name for f in (p.folder / "uploads").iterdir()) == ["a_b-1.png", "a_b.png"]


def test_a_file_replaced_by_a_link_elsewhere_is_not_served(tmp_path, folder):
    p = LabelingProject.open(tmp_path / "p")
    p.add_folder(folder[0])
    key = p.items[0]
    i = p.item_ids([key])[0]
    assert p.image_file(i) == Path(key).resolve()
    secret = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(secret)
    os.unlink(key)
    os.symlink(secret, key)
    with pytest.raises(PermissionError):
        p.image_file(i)


# -- queries, labels, fit -------------------------------------------------------------------------
def test_batches_start_with_the_initial_strategy_then_use_the_model(project, folder):
    truth = folder[1]
    b1 = project.next_batch()
    assert b1.name == "batch-1" and b1.strategy == "typiclust" and len(b1.ids) == 6
    assert project.added_set == list(b1.ids) and project.next_batch() is None  # batch in progress
    label_all(project, b1, truth)
    project.fit()
    b2 = project.next_batch()
    assert b2.strategy == "least_confidence" and b2.model_round == 1 and not set(b2.ids) & set(b1.ids)
    assert b2.params["model"] == "the project's model, round 1" and b2.n_labeled == 6
    kept = project.selection("batch-2")
    assert kept.ids == b2.ids and kept.created == b2.created


def test_query_by_total_in_a_subset_is_kept_by_name(project, folder):
    truth = folder[1]
    reds = [k for k in project.items if truth[k] == "red"]
    assert project.define_subset("reds", reds) == 20
    sel = project.query("kcenter", total=4, subset="reds", name="first reds")
    assert len(sel.ids) == 4 and set(sel.ids) <= set(reds) and sel.subset == "reds"
    project.add_labels({k: "red" for k in sel.ids})
    more = project.query("random", total=10, name="to ten")
    assert len(more.ids) == 6
    with pytest.raises(UserError, match="exists"):
        project.query("random", 2, name="to ten")
    with pytest.raises(UserError, match="already has 4"):
        project.query("random", total=4)
    with pytest.raises(UserError, match="no subset"):
        project.query("random", 2, subset="nosuch")
    with pytest.raises(UserError, match="needs model outputs"):
        project.query("margin", 2)  # no model yet
    assert [s.name for s in project.selections()] == ["first reds", "to ten"]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_fit_estimates_accuracy_by_cross_validation_and_calibrates(project, folder):
    truth = folder[1]
    keys = project.items
    labeled = keys[::3]  # 20 images, every class
    project.add_labels({k: truth[k] for k in labeled})
    rep = project.fit()
    assert rep.folds == 5 and rep.cv_accuracy is not None and rep.cv_accuracy > 0.8  # colours: easy
    assert "cross-validation" in rep.source and 0.05 <= rep.temperature <= 20
    rest = [k for k in keys if k not in labeled]
    p = project.predict(rest)
    assert p.shape == (40, 3) and np.allclose(p.sum(1), 1)
    acc = np.mean([CLASSES[i] == truth[k] for i, k in zip(p.argmax(1), rest)])
    assert acc > 0.8
    assert not project.needs_fit()
    project.add_labels({rest[0]: truth[rest[0]]})
    assert project.needs_fit()


def test_few_labels_fit_without_an_accuracy_claim(project, folder):
    truth = folder[1]
    keys = project.items
    project.add_labels({keys[0]: truth[keys[0]], keys[-1]: truth[keys[-1]]})
    rep = project.fit()
    assert rep.folds == 0 and rep.cv_accuracy is None and rep.temperature == 1.0 and "no estimate" in rep.source
    project.remove_label(keys[-1])
    with pytest.raises(UserError, match="at least 2 classes"):
        project.fit()


def test_undo_takes_back_labels_newest_first_and_a_relabel_returns_the_label_before(project):
    k = project.items
    project.add_labels({k[0]: "red"})
    project.add_labels({k[1]: "green"})
    project.add_labels({k[0]: "blue"})  # relabel: the latest label of k[0] is blue
    assert project.undo_last() == k[0] and project.labels[k[0]] == "red"  # back to red, not erased
    assert project.undo_last() == k[1] and k[1] not in project.labels
    assert project.undo_last() == k[0] and project.labels == {}  # the undos themselves are never undone
    assert project.undo_last() is None
    with pytest.raises(UserError, match="unknown label"):
        project.add_labels({k[0]: "purple"})


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
# -- model file ------------------------------------------------------------------------------------
def test_the_exported_model_reloads_with_al_bench_and_plain_torch_to_the_same_predictions(project, folder):
    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[::2]})
    project.fit()
    out = project.export_model()
    keys, x = project.features()
    want = project.predict(keys)
    m = load_model(out["path"])
    np.testing.assert_allclose(m.predict_proba(x), want, rtol=0, atol=1e-12)
    raw = torch.load(out["path"], weights_only=True)
    plain = torch.softmax((torch.from_numpy(x) @ raw["weight"].T + raw["bias"]).double() / raw["temperature"], 1)
    np.testing.assert_allclose(plain.numpy(), want, atol=1e-6)
    assert raw["classes"] == CLASSES and raw["embedder"]["name"] == "pixels" and raw["embedder"]["fitted_on"]
    with pytest.raises(UserError, match="exists already"):
        project.export_model(out["path"])
    # importing it makes it the current model (same predictions); a wrong file says why
    rnd = project.import_model(Path(out["path"]).read_bytes(), 3)
    assert project.model_info()["kind"] == "imported" and project.model_info()["round"] == rnd
    np.testing.assert_allclose(project.predict(keys), want, atol=1e-12)
    with pytest.raises(UserError, match="not 4"):
        project.import_model(Path(out["path"]).read_bytes(), 4)
    with pytest.raises(UserError, match="does not load"):
        project.import_model(b"hello", 3)


# -- checkpoints -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_restore_returns_labels_selections_and_model_and_keeps_the_state_left(project, folder):
    truth = folder[1]
    b1 = project.next_batch()
    label_all(project, b1, truth)
    project.fit()
    project.checkpoint("after one")
    at_ckpt = project.labels
    b2 = project.next_batch()
    label_all(project, b2, truth)
    project.fit()
    assert len(project.labels) == 12
    project.restore("after one")
    assert project.labels == at_ckpt and [s.name for s in project.selections()] == ["batch-1"]
    assert project.model_info()["round"] == 1
    names = [c["name"] for c in project.checkpoints()]
    assert names[0] == "after one" and names[1].startswith("before restoring after one")
    project.restore(names[1], keep_current=False)  # and back again
    assert len(project.labels) == 12 and project.model_info()["round"] == 2
    with pytest.raises(UserError, match="exists"):
        project.checkpoint("after one")
    with pytest.raises(UserError, match="no checkpoint"):
        project.restore("nosuch")


# -- label exports ---------------------------------------------------------------------------------
def test_label_exports_csv_label_studio_and_imagefolder(project, folder, tmp_path):
    import pandas as pd

    truth = folder[1]
    labeled = project.items[:5]
    project.add_labels({k: truth[k] for k in labeled})
    out = project.export_labels("csv")
    df = pd.read_csv(out["path"])
    assert dict(zip(df["path"], df["label"])) == {k: truth[k] for k in labeled}
    ls = json.loads(Path(project.export_labels("label_studio")["path"]).read_text())
    assert [t["annotations"][0]["result"][0]["value"]["choices"] for t in ls] == [[truth[k]] for k in labeled]
    for mode in ("link", "copy"):
        dest = tmp_path / f"export-{mode}"
        project.export_labels("imagefolder", dest, mode)
        files = sorted(dest.rglob("*.png"))
        assert len(files) == 5 and all(f.parent.name == truth[str(folder[0] / f.name)] for f in files)
        assert all(f.is_symlink() == (mode == "link") for f in files)
    with pytest.raises(UserError, match="exists already"):
        project.export_labels("imagefolder", tmp_path / "export-copy", "copy")
    assert not list(tmp_path.glob(".tmp-*"))


# -- durability ------------------------------------------------------------------------------------
LABELER = textwrap.dedent("""
    import sys
    from al_bench.labeling import LabelingProject
    p = LabelingProject.open(sys.argv[1])
    keys = p.items[int(sys.argv[2])::2]
    for k in keys:
        p.add_labels({k: sys.argv[3]})
        print(k, flush=True)  # acknowledged: add_labels returned
""")


def _labeler(project, start, label):
    return subprocess.Popen([sys.executable, "-c", LABELER, str(project.folder), str(start), label],
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_mid_labeling_loses_no_acknowledged_label(project):
    proc = _labeler(project, 0, "red")
    acked = []
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) == 12:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    again = LabelingProject.open(project.folder)
    assert set(acked) <= set(again.labels)
    with sqlite3.connect(again.db_path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_two_processes_labeling_at_once_lose_nothing(project):
    procs = [_labeler(project, 0, "red"), _labeler(project, 1, "green")]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    labels = LabelingProject.open(project.folder).labels
    assert len(labels) == 60 and {labels[k] for k in outs[0]} == {"red"} and {labels[k] for k in outs[1]} == {"green"}


def test_a_checkpoint_killed_midway_leaves_no_listed_or_partial_checkpoint(project):
    d = project.folder / "checkpoints"
    d.mkdir()
    stale = d / ".tmp-old.sqlite"
    stale.write_bytes(b"partial")
    (project.folder / "exports").mkdir()
    export = project.folder / "exports" / ".model-x.pt.abc123.tmp"  # runfiles.atomic_write's temporary
    export.write_bytes(b"partial")
    fresh = d / ".tmp-now.sqlite"  # another process may be writing this one
    fresh.write_bytes(b"partial")
    old = time.time() - 3600
    for f in (stale, export):
        os.utime(f, (old, old))
    again = LabelingProject.open(project.folder)  # reopening cleans what a killed process left
    assert not stale.exists() and not export.exists() and fresh.exists() and again.checkpoints() == []


def test_a_read_only_project_folder_is_one_clear_error(tmp_path):
    """An existing project on a read-only bind mount (root: permissions do not stop root), else a
    folder without write permission."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() == 0:
        src = tmp_path / "src"
        LabelingProject.open(src).setup("x", "a, b", embedder="pixels")
        if subprocess.run(["mount", "--bind", str(src), str(d)], capture_output=True).returncode:
            pytest.skip("cannot bind-mount here")
        try:
            if subprocess.run(["mount", "-o", "remount,ro,bind", str(d)], capture_output=True).returncode:
                pytest.skip("cannot remount read-only here")
            with pytest.raises(UserError):
                LabelingProject.open(d)
        finally:
            subprocess.run(["umount", "-l", str(d)], check=False)
        return
    d.chmod(0o500)
    try:
        with pytest.raises(UserError):
            LabelingProject.open(d)
    finally:
        d.chmod(0o700)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_label_given_while_a_restore_runs_is_not_lost(project, monkeypatch):
    import threading

    keys = project.items
    project.add_labels({keys[0]: "red"})
    project.checkpoint("one")
    project.add_labels({keys[2]: "blue"})
    snapshot, writer = LabelingProject._snapshot, []

    def slow_snapshot(self):  # another writer arrives while the state being left is copied
        out = snapshot(self)
        if not writer:
            writer.append(threading.Thread(target=lambda: LabelingProject.open(project.folder).add_labels(
                {keys[1]: "green"})))
            writer[0].start()
            time.sleep(0.3)
        return out

    monkeypatch.setattr(LabelingProject, "_snapshot", slow_snapshot)
    out = project.restore("one")
    writer[0].join(60)
    # the restore held every writer off: the label lands after it, the "before" checkpoint holds blue
    assert project.labels == {keys[0]: "red", keys[1]: "green"}
    monkeypatch.undo()
    project.restore(out["saved_as"], keep_current=False)
    assert project.labels == {keys[0]: "red", keys[2]: "blue"}


def test_a_csv_never_overwrites_a_label(project, tmp_path):
    k = project.items
    project.add_labels({k[0]: "red"})
    f = tmp_path / "l.csv"
    f.write_text(f"path,label\n{k[0]},blue\n{k[1]},green\n")
    with pytest.raises(UserError, match="already have another label"):
        project.add_csv(f)
    assert project.labels == {k[0]: "red"}  # nothing added
    f.write_text(f"path,label\n{k[0]},red\n{k[1]},green\n")
    assert project.add_csv(f).labeled == 1 and project.labels == {k[0]: "red", k[1]: "green"}


@pytest.mark.slow
def test_a_model_of_other_images_is_not_imported(tmp_path, project, folder):
    other_dir = tmp_path / "other"
    truth = make_folder(other_dir, per_class=20, seed=5)  # same size: same feature width
    other = LabelingProject.open(tmp_path / "p2")
    other.setup("o", CLASSES, embedder="pixels")
    other.add_folder(other_dir)
    other.add_labels({k: truth[k] for k in other.items[::2]})
    other.fit()
    data = Path(other.export_model()["path"]).read_bytes()
    with pytest.raises(UserError, match="other images or options"):
        project.import_model(data, 3)  # pixels is fitted (PCA) on each project's own images


@pytest.mark.slow
def test_all_right_out_of_fold_keeps_temperature_one_and_rounds_never_repeat(project, folder):
    truth = folder[1]
    project.add_labels({k: truth[k] for k in project.items[::2]})
    rep = project.fit()
    assert rep.cv_accuracy == 1.0 and rep.temperature == 1.0  # colours: every fold right
    project.checkpoint("r1")
    project.fit()
    assert project.model_info()["round"] == 2
    project.restore("r1", keep_current=False)
    assert project.fit().round == 3  # not 2 again: a round number names one model


@pytest.mark.slow
def test_an_export_of_a_model_older_than_the_labels_is_refused(project, folder):
    truth = folder[1]
    keys = project.items
    project.add_labels({k: truth[k] for k in keys[::3]})
    project.fit()
    project.add_labels({keys[1]: truth[keys[1]]})
    with pytest.raises(UserError, match="retrain first"):
        project.export_model()
    project.fit()
    assert project.export_model()["round"] == 2


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_auto_reads_the_project_s_labels_and_says_what_it_chose(tmp_path, folder):
    from al_bench.labeling.project import DEFAULT_STRATEGY

    truth = folder[1]
    p = LabelingProject.open(tmp_path / "p")
    p.setup("colours", CLASSES, batch_size=12, embedder="pixels")  # the default strategy
    assert p.settings["strategy"] == DEFAULT_STRATEGY == "auto"
    p.add_folder(folder[0])
    for _ in range(2):  # 24 labels: above auto's min_labels, so its removal test runs on them
        label_all(p, p.next_batch(), truth)
        p.fit()
    sel = p.next_batch()
    assert sel.strategy == "auto" and sel.params["candidate"] in {"typiclust", "margin"}
    assert sel.params["reason"].startswith("removal test over 15 splits")
    # a query of its own (another stream) reads them too
    again = p.query("auto", n=12, seed=3)
    assert again.params["reason"].startswith("removal test") and len(set(again.ids)) == 12
