"""Replay, resume and scale-out through the real entry point: byte-identical reruns, finished
runs skipped by fingerprint (whatever the override order), a kill -9 resumed at round level to
the same results, and joblib workers agreeing with a serial sweep."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from support import CONF, one_run
from support import main as _main

FAST = ["dataset=digits", "embedder=pixels", "budget=smoke", "model.steps=60"]


def _files(out: Path, name: str) -> dict[str, bytes]:
    return {p.parent.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "runs").rglob(name))}


@pytest.mark.slow
def test_same_config_and_seed_replay_byte_for_byte(tmp_path):
    args = ["-m", *FAST, "strategy=bald,kcenter,badge,hybrid", "seed=3"]
    for name in ("a", "b"):
        r = _main(*args, f"paths.outputs_dir={tmp_path / name}", f"paths.data_dir={tmp_path / name / 'data'}",
                  cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
    for f in ("curve.csv", "selected.csv"):
        a, b = _files(tmp_path / "a", f), _files(tmp_path / "b", f)
        assert len(a) == 4 and a == b, f
    curve = pd.read_csv(next((tmp_path / "a" / "runs").rglob("curve.csv")))
    assert not any(c.endswith("_seconds") for c in curve.columns)  # wall times live in timing.csv
    assert {"git_commit", "code_version", "config_fingerprint", "split_hash", "embedding_checksum"} <= set(curve.columns)


def _status(out: Path) -> dict[str, dict]:
    """status.json of every run, keyed "seed<k>/<strategy>" (one config per strategy and seed)."""
    found = {}
    for p in (out / "runs").rglob("status.json"):
        key = p.parent.name.split("-")[0] + "/" + p.parent.parent.name
        assert key not in found, f"two runs of {key}"
        found[key] = json.loads(p.read_text())
    return found


@pytest.mark.slow
def test_finished_runs_are_skipped_by_fingerprint_in_any_override_order(tmp_path):
    out, data = f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}"
    r = _main("-m", *FAST, "strategy=random,entropy", "seed=0", out, data, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    first = _status(tmp_path / "out")
    # same sweep, overrides reordered: nothing reruns
    r = _main("-m", "seed=0", "strategy=entropy,random", *reversed(FAST), data, out, cwd=tmp_path)
    assert r.returncode == 0 and (r.stdout + r.stderr).count("skipping") == 2, r.stderr[-2000:]
    assert _status(tmp_path / "out") == first
    # a failed run and a changed config rerun; the untouched finished run does not
    st = one_run(tmp_path / "out", "digits/pixels/linear/smoke/random/seed0") / "status.json"
    st.write_text(json.dumps({**json.loads(st.read_text()), "status": "failed"}))
    r = _main("-m", *FAST, "strategy=random,entropy", "seed=0", out, data, cwd=tmp_path)
    assert (r.stdout + r.stderr).count("skipping") == 1
    again = _status(tmp_path / "out")
    assert again["seed0/entropy"] == first["seed0/entropy"] and again["seed0/random"]["status"] == "ok"
    assert again["seed0/random"]["finished"] >= first["seed0/random"]["finished"]
    # another config is another run, in its own folder: the finished one is kept as it is
    r = _main("-m", *FAST, "model.steps=61", "strategy=entropy", "seed=0", out, data, cwd=tmp_path)
    assert r.returncode == 0 and "skipping" not in r.stdout + r.stderr
    entropy = sorted((tmp_path / "out" / "runs").glob("digits/pixels/linear/smoke/entropy/seed0-*/status.json"))
    assert len(entropy) == 2
    assert first["seed0/entropy"] in [json.loads(p.read_text()) for p in entropy]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_equals_a_clean_run(tmp_path):
    """A long-ish single run is killed after a few rounds and rerun: it continues from its
    checkpoint and its files equal an uninterrupted run's; aggregation has no duplicate rows."""
    args = ["dataset=digits", "embedder=pixels", "strategy=badge", "budget.batch_size=5", "model.steps=40",
            "budget.fractions=[0.05,0.1,0.2]"]
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    from al_bench.runfiles import run_dir_of
    from support import compose_config

    run_dir = killed / "runs" / run_dir_of(compose_config(*args, f"paths.outputs_dir={killed}",
                                                          f"paths.data_dir={tmp_path / 'data'}"))
    env_args = [sys.executable, "-m", "al_bench", *args, f"paths.outputs_dir={killed}",
                f"paths.data_dir={tmp_path / 'data'}"]
    proc = subprocess.Popen(env_args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt = run_dir / "checkpoint.npz"
    deadline = time.time() + 120
    rounds = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.is_file():
            try:
                with np.load(ckpt) as z:
                    rounds = json.loads(str(z["meta"]))["round"]
            except Exception:  # caught mid-rename: try again
                rounds = 0
            if rounds >= 8:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    assert not (run_dir / "curve.csv").exists()
    r = _main(*args, f"paths.outputs_dir={killed}", f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming from the checkpoint after round" in r.stdout + r.stderr
    assert not ckpt.exists()
    r = _main(*args, f"paths.outputs_dir={clean}", f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode == 0
    assert _files(killed, "curve.csv") == _files(clean, "curve.csv")
    assert _files(killed, "selected.csv") == _files(clean, "selected.csv")
    for out in (killed, clean):
        assert subprocess.run([sys.executable, "-m", "al_bench.report", str(out)], capture_output=True).returncode == 0
    a = pd.read_csv(killed / "tables" / "results.csv")
    b = pd.read_csv(clean / "tables" / "results.csv")
    keep = [c for c in a.columns if not c.endswith(("_seconds", "_mb"))]
    pd.testing.assert_frame_equal(a[keep], b[keep])
    assert not a.duplicated(["strategy", "seed", "budget"]).any()


def test_slurm_preset_composes():
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    assert "submitit" in cfg.hydra.launcher._target_ and cfg.hydra.launcher.cpus_per_task == 4


@pytest.mark.slow
def test_joblib_workers_agree_with_a_serial_sweep(tmp_path):
    """Two joblib workers and a serial sweep, each job pinned to one thread: identical files.
    (With different thread counts float sums differ in the last bits and picks can diverge.)"""
    args = ["-m", *FAST, "strategy=entropy,kcenter,badge", "seed=0,1", "threads=1"]
    serial = _main(*args, f"paths.outputs_dir={tmp_path / 's'}", f"paths.data_dir={tmp_path / 'd1'}", cwd=tmp_path)
    par = _main(*args, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"paths.outputs_dir={tmp_path / 'p'}",
                f"paths.data_dir={tmp_path / 'd2'}", cwd=tmp_path)
    assert serial.returncode == 0 and par.returncode == 0, par.stderr[-2000:]
    for f in ("curve.csv", "selected.csv"):
        a, b = _files(tmp_path / "s", f), _files(tmp_path / "p", f)
        assert len(a) == 6 and a == b, f
    threads = {json.loads(p.read_text())["threads"] for p in (tmp_path / "p" / "runs").rglob("status.json")}
    assert threads == {1}

def _bad_npz(tmp_path, kind):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (600, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(600) % 3
    path = tmp_path / f"{kind}.npz"
    if kind == "nolabels":
        np.savez(path, images=images)
    elif kind == "oneclass":
        np.savez(path, images=images, labels=np.zeros(600))
    elif kind == "nan":
        np.savez(path, images=np.where(np.arange(600)[:, None, None, None] == 7, np.nan, images / 255.0), labels=labels)
    elif kind == "corrupt":
        path.write_bytes(b"not a zip file")
    elif kind == "good":
        np.savez(path, images=images, labels=labels)
    return path


BAD_DATA = [
    ("absent", [], "dataset.path: no such file"),
    ("corrupt", [], "cannot read"),
    ("nolabels", [], "missing array(s) ['labels']"),
    ("oneclass", [], "needs at least 2 classes"),
    ("nan", [], "NaN or infinite values"),
    ("good", ["budget.initial=500"], "budget.initial=500 exceeds the first budget point"),
    ("good", ["budget.batch_size=500"], "budget.batch_size=500 is larger than the pool"),
    ("good", ["budget.fractions=[0.5,1.5]"], "budget.fractions[1]=1.5: must lie in (0, 1]"),
]


@pytest.mark.parametrize("kind, extra, message", BAD_DATA)
def test_bad_data_is_a_user_error_and_writes_no_results(tmp_path, kind, extra, message):
    """In process: run() raises a one-line UserError and leaves no result files."""
    from al_bench.cli.run import settings_from
    from al_bench.errors import UserError
    from al_bench.run import run
    from support import compose_config

    path = tmp_path / "absent.npz" if kind == "absent" else _bad_npz(tmp_path, kind)
    out = tmp_path / "out"
    try:
        s, plain = settings_from(compose_config("dataset=npz", f"dataset.path={path}", "embedder=pixels", *extra,
                                                f"paths.outputs_dir={out}", f"paths.data_dir={tmp_path / 'data'}"))
    except Exception as exc:  # refused by the config check, before any run
        assert message in str(exc)
        return
    with pytest.raises(UserError, match=None) as exc:
        run(s, out / "run", plain)
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert not list(out.rglob("curve.csv")) and not list(out.rglob("selected.csv"))


@pytest.mark.slow
@pytest.mark.parametrize("kind, extra, message", BAD_DATA)
def test_bad_data_fails_in_one_line_and_writes_no_results(tmp_path, kind, extra, message):
    path = tmp_path / "absent.npz" if kind == "absent" else _bad_npz(tmp_path, kind)
    out = tmp_path / "out"
    r = _main("dataset=npz", f"dataset.path={path}", "embedder=pixels", *extra, f"paths.outputs_dir={out}",
              f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr and "Traceback" not in r.stderr, r.stderr[-1500:]
    assert not list(out.rglob("curve.csv")) and not list(out.rglob("selected.csv"))
