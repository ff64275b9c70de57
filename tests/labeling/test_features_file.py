"""LabelingProject.use_features: the images' features from a file a pipeline wrote (Parquet,
.npz, .npy + ids), matched by path; refused with nothing changed when it does not fit."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from labeling.colour_folder import CLASSES, make_folder

from al_bench.errors import UserError
from al_bench.labeling import LabelingProject


def _vectors(truth: dict[str, str], seed: int = 0) -> dict[str, np.ndarray]:
    """A 16-dim vector per image that separates the classes (a stand-in for a pipeline's)."""
    rng = np.random.default_rng(seed)
    out = {}
    for path, name in sorted(truth.items()):
        v = rng.normal(0, 0.3, 16).astype(np.float32)
        v[CLASSES.index(name)] += 3.0
        out[path] = v
    return out


@pytest.fixture
def images(tmp_path):
    truth = make_folder(tmp_path / "images", per_class=8)
    return tmp_path / "images", truth


def _parquet(path: Path, vecs: dict[str, np.ndarray], root: Path) -> Path:
    pd.DataFrame({"id": [Path(k).relative_to(root).as_posix() for k in vecs],
                  "embedding": [v.tolist() for v in vecs.values()]}).to_parquet(path)
    return path


def test_a_parquet_file_gives_the_features_the_project_fits_and_queries_on(tmp_path, images):
    folder, truth = images
    vecs = _vectors(truth)
    extra = {str(folder / "not_in_project.png"): np.ones(16, np.float32)}  # other images' vectors are ignored
    f = _parquet(tmp_path / "emb.parquet", {**vecs, **extra}, folder)
    p = LabelingProject.open(tmp_path / "proj")
    p.setup("colours", CLASSES, strategy="margin", batch_size=4)
    p.add_folder(folder)
    spec = p.use_features(f, root=folder, name="my-clip")
    assert spec["name"] == "my-clip" and p.settings["embedder_resolved"] == "file:my-clip"
    keys, x = p.features()
    np.testing.assert_array_equal(x, np.stack([vecs[k] for k in keys]))
    assert p.embedder_identity()["name"] == "file:my-clip" and p.embedder_identity()["fitted_on"] is None
    first = p.query("random", 9)
    p.add_labels({k: truth[k] for k in first.ids})
    rep = p.fit()
    assert rep.n_labeled == 9
    sel = p.query("margin", 4)
    assert len(sel.ids) == 4 and not set(sel.ids) & set(first.ids)
    # setting up again (the app's settings form, embedder left at auto) keeps the file
    p.setup("colours", CLASSES, strategy="entropy", batch_size=4)
    assert p.settings["embedder"] == "file" and p.settings["embedder_resolved"] == "file:my-clip"
    with pytest.raises(UserError, match="cannot change"):
        p.setup("colours", CLASSES, embedder="pixels")


def test_an_image_without_a_vector_is_named_and_nothing_changes(tmp_path, images):
    folder, truth = images
    vecs = _vectors(truth)
    lost = sorted(vecs)[3]
    del vecs[lost]
    f = _parquet(tmp_path / "emb.parquet", vecs, folder)
    p = LabelingProject.open(tmp_path / "proj")
    p.setup("colours", CLASSES, embedder="pixels")
    p.add_folder(folder)
    with pytest.raises(UserError, match=rf"1 of the project's 24 image\(s\) have no vector in it \(first: {lost}\)"):
        p.use_features(f, root=folder)
    assert p.features_file() is None and p.settings["embedder"] == "pixels"
    # ids relative to another root than the one given: every image is named missing
    with pytest.raises(UserError, match="24 of the project's 24"):
        p.use_features(_parquet(tmp_path / "all.parquet", _vectors(truth), folder), root=tmp_path)
    assert p.features_file() is None


def test_features_from_an_embedder_cannot_be_swapped_for_a_file(project, tmp_path, folder):
    project.features()  # pixels, computed
    f = _parquet(tmp_path / "emb.parquet", _vectors(folder[1]), folder[0])
    with pytest.raises(UserError, match="come from pixels; they cannot change"):
        project.use_features(f, root=folder[0])
    assert project.features_file() is None


def test_a_rewritten_file_is_read_again_and_the_model_goes_stale(tmp_path, images):
    folder, truth = images
    keys = sorted(truth)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(k + "\n" for k in keys))  # absolute paths: no root
    np.save(tmp_path / "emb.npy", np.stack([_vectors(truth)[k] for k in keys]).astype(np.float16))
    p = LabelingProject.open(tmp_path / "proj")
    p.use_features(tmp_path / "emb.npy", ids=ids)  # before setup and before any image: checked, kept
    p.setup("colours", CLASSES, batch_size=4)
    p.add_folder(folder)
    assert p.settings["embedder_resolved"] == "file:emb.npy"
    _, x = p.features()
    assert x.dtype == np.float32
    p.add_labels({k: truth[k] for k in keys[::2]})
    p.fit()
    assert not p.needs_fit()
    # the pipeline rewrites the file with other vectors: read again, the model is for the old ones
    np.save(tmp_path / "emb.npy", np.stack([_vectors(truth, seed=1)[k] for k in keys]).astype(np.float16))
    st = os.stat(tmp_path / "emb.npy")
    os.utime(tmp_path / "emb.npy", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _, x2 = p.features()
    assert not np.array_equal(x, x2) and p.needs_fit()


def test_a_model_file_imports_only_where_the_features_carry_the_same_name(tmp_path, images):
    folder, truth = images
    f = _parquet(tmp_path / "emb.parquet", _vectors(truth), folder)

    def project(where, name):
        p = LabelingProject.open(tmp_path / where)
        p.setup("colours", CLASSES, batch_size=4)
        p.add_folder(folder)
        p.use_features(f, root=folder, name=name)
        return p

    a = project("a", "clip")
    a.add_labels({k: truth[k] for k in sorted(truth)[::2]})
    a.fit()
    model = tmp_path / "model.pt"
    a.export_model(model)
    assert project("b", "clip").import_model(model.read_bytes()) >= 1
    with pytest.raises(UserError, match="takes file:clip features"):
        project("c", "other").import_model(model.read_bytes())


def test_the_command_refuses_bad_features_flags_before_serving(tmp_path, capsys):
    from al_bench.labeling.cli import main

    assert main([str(tmp_path / "p"), "--features-root", str(tmp_path)]) == 2
    assert "--features-root: only with --features FILE" in capsys.readouterr().err
    assert main([str(tmp_path / "p"), "--features", str(tmp_path / "none.parquet"), "--port", "0"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert LabelingProject.open(tmp_path / "p").features_file() is None


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_the_command_serves_a_project_whose_features_come_from_a_file(tmp_path, images):
    import json
    import re
    import subprocess
    import sys
    import urllib.request

    folder, truth = images
    f = _parquet(tmp_path / "emb.parquet", _vectors(truth), folder)
    p = LabelingProject.open(tmp_path / "proj")
    p.setup("colours", CLASSES, batch_size=4)
    p.add_folder(folder)
    del p
    exe = Path(sys.executable).with_name("al-bench-label")
    proc = subprocess.Popen([str(exe), str(tmp_path / "proj"), "--port", "0", "--features", str(f),
                             "--features-root", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said = proc.stdout.readline()
        assert f"the images' features come from {f} (file:emb.parquet)" in said, said + proc.stdout.read()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", proc.stdout.readline()).group(1)
        with urllib.request.urlopen(url + "/api/state", timeout=60) as r:
            state = json.loads(r.read())
        assert state["setup"] is True
        assert "file:emb.parquet" in json.dumps(state)
    finally:
        proc.terminate()
        proc.wait(30)
    assert LabelingProject.open(tmp_path / "proj").features_file()["name"] == "emb.parquet"


def test_a_checkpoint_from_before_the_file_restores_labels_but_the_features_stay_the_files(tmp_path, images):
    folder, truth = images
    p = LabelingProject.open(tmp_path / "proj")
    p.setup("colours", CLASSES, batch_size=4)
    p.add_folder(folder)
    p.checkpoint("before")
    p.use_features(_parquet(tmp_path / "emb.parquet", _vectors(truth), folder), root=folder, name="clip")
    p.add_labels({k: truth[k] for k in sorted(truth)[:6]})
    p.restore("before")  # its settings name no file
    assert len(p.labels) == 0
    p.features()
    assert p.settings["embedder_resolved"] == "file:clip" and p.settings["embedder"] == "file"
