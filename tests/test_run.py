"""Replay, resume and scale-out through the real entry point: byte-identical reruns, finished
runs skipped by fingerprint (whatever the override order), a kill -9 resumed at round level to
the same results, and joblib workers agreeing with a serial sweep."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from contextlib import contextmanager
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
    # threads pinned: threads=auto takes fewer threads on a busy machine, and float sums over
    # another thread count may differ in the last bits (README, "Threads")
    args = ["-m", *FAST, "strategy=bald,kcenter,badge,hybrid", "seed=3", "threads=1"]
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
    assert {"balanced_accuracy", "macro_f1", "worst_class_recall"} <= set(curve.columns)
    assert [c for c in curve.columns if c.startswith("recall_")] == [f"recall_{c}" for c in
                                                                     [c[len("labeled_"):] for c in curve.columns
                                                                      if c.startswith("labeled_")]]


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
    hydra_files = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "runs").rglob(".hydra/*.yaml")}
    assert len(hydra_files) == 6
    # same sweep, overrides reordered: nothing reruns, nothing is even submitted
    r = _main("-m", "seed=0", "strategy=entropy,random", *reversed(FAST), data, out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "sweep: 2 of 2 runs finished before with the same config, code and data: not submitted" in r.stdout + r.stderr
    assert "Launching 0 jobs" not in r.stdout and "#0" not in r.stdout  # no job line from the launcher
    assert _status(tmp_path / "out") == first
    assert {p: p.stat().st_mtime_ns for p in hydra_files} == hydra_files  # no job touched its folder
    # a failed run and a changed config rerun; the untouched finished run does not
    st = one_run(tmp_path / "out", "digits/pixels/linear/smoke/random/seed0") / "status.json"
    st.write_text(json.dumps({**json.loads(st.read_text()), "status": "failed"}))
    r = _main("-m", *FAST, "strategy=random,entropy", "seed=0", out, data, cwd=tmp_path)
    assert "sweep: 1 of 2 runs finished before" in r.stdout + r.stderr
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


@pytest.mark.slow
def test_slurm_preset_composes():
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.al_bench_sweeper.slurm.AlBenchSlurmLauncher"  # submitit, waiting for all jobs
    # defaults that run on a small node: few cores, little memory, no GPU flag, a real job name,
    # and timed-out jobs resubmitted (runs resume from their round checkpoint)
    assert launcher.cpus_per_task <= 2 and launcher.mem_gb <= 4 and launcher.gpus_per_node is None
    assert launcher.name == "al_bench" and launcher.max_num_timeout >= 1


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
    # one line, without Hydra's "Error executing job with overrides ... HYDRA_FULL_ERROR" wrapper
    assert "Error executing job" not in r.stderr and "HYDRA_FULL_ERROR" not in r.stderr, r.stderr
    assert not (out / "runs").exists()  # config and data errors leave no run folder


# -- truthful status, one-line errors, exit codes (signals, full or read-only disks) ------------

def _settings(tmp_path, *extra):
    from al_bench.cli.run import settings_from
    from support import compose_config

    return settings_from(compose_config("dataset=digits", "embedder=pixels", "budget=smoke", *extra,
                                        f"paths.outputs_dir={tmp_path / 'out'}",
                                        f"paths.data_dir={tmp_path / 'data'}"))


class _FakeHydra:
    """What run_job reads of HydraConfig.get(), for one single (not multi) run."""

    def __init__(self, run_dir, mode=None):
        from hydra.types import RunMode
        from omegaconf import OmegaConf

        self.runtime = OmegaConf.create({"output_dir": str(run_dir)})
        self.mode = mode or RunMode.RUN
        self.launcher = OmegaConf.create({"_target_": "basic"})


def _run_job(tmp_path, monkeypatch, failure, *extra):
    """run_job on a composed config whose run raises ``failure`` after a round's checkpoint."""
    import al_bench.cli.run as cli
    import al_bench.run as runmod
    from support import compose_config

    cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", *extra,
                         f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}")
    run_dir = tmp_path / "out" / "runs" / "digits" / "x" / "seed0-abc"
    run_dir.mkdir(parents=True)
    (run_dir / ".hydra").mkdir()  # what Hydra makes before the job starts

    def fake_run(s, rd, progress, fp, ckpt, config):
        (rd / "checkpoint.npz").write_bytes(b"round 3")
        raise failure

    monkeypatch.setattr(runmod, "_run", fake_run)
    monkeypatch.setattr(cli, "pin_threads", lambda n: None)
    monkeypatch.setattr(cli, "_catch_sigterm", lambda: None)
    monkeypatch.setattr(cli.HydraConfig, "get", staticmethod(lambda: _FakeHydra(run_dir)))
    with pytest.raises(SystemExit) as exc:
        cli.run_job(cfg)
    return exc.value.code, run_dir


@pytest.mark.slow
@pytest.mark.parametrize("failure, code, sig", [(KeyboardInterrupt(), 130, "SIGINT"), ("term", 143, "SIGTERM")])
def test_a_signal_ends_the_run_interrupted_with_its_checkpoint_and_exit_code(tmp_path, monkeypatch, capsys,
                                                                            failure, code, sig):
    from al_bench.run import Interrupted

    failure = Interrupted(signal.SIGTERM) if failure == "term" else failure
    got, run_dir = _run_job(tmp_path, monkeypatch, failure)
    assert got == code
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == sig and status["checkpoint"] is True
    assert (run_dir / "checkpoint.npz").is_file()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and sig in err and str(run_dir) in err


@pytest.mark.slow
@pytest.mark.parametrize("eno, words", [(errno.ENOSPC, "no space left on device"), (errno.EROFS, "read-only file system")])
def test_a_full_or_read_only_disk_is_a_truthful_status_and_one_line(tmp_path, monkeypatch, capsys, eno, words):
    target = tmp_path / "out" / "curve.csv"
    got, run_dir = _run_job(tmp_path, monkeypatch, OSError(eno, os.strerror(eno), str(target)))
    assert got == 1
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == f"failed: {words} ({target})"
    assert (run_dir / "checkpoint.npz").is_file()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and str(target) in err


def test_status_that_cannot_be_written_does_not_hide_the_cause(tmp_path, monkeypatch):
    """A disk so full that even status.json fails: run() still raises the write error itself."""
    import al_bench.run as runmod
    from al_bench.run import run, storage_problem

    s, plain = _settings(tmp_path)

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / ".status.json.x1y2.tmp"))

    monkeypatch.setattr(runmod, "write_status", no_space)
    with pytest.raises(OSError) as exc:
        run(s, tmp_path / "out" / "run", plain)
    assert storage_problem(exc.value) == f"no space left on device ({tmp_path / 'out' / 'status.json'})"


@pytest.mark.slow
def test_a_data_error_in_a_single_run_leaves_no_run_folder(tmp_path, monkeypatch, capsys):
    from al_bench.errors import UserError

    got, run_dir = _run_job(tmp_path, monkeypatch, UserError("no such file", key="dataset.path"))
    # the fake run wrote a checkpoint; a real data error fails before any round
    assert got == 1 and run_dir.exists()
    import al_bench.run as runmod

    monkeypatch.setattr(runmod, "_run", lambda *a: (_ for _ in ()).throw(UserError("no such file", key="dataset.path")))
    import shutil

    shutil.rmtree(tmp_path / "out")
    capsys.readouterr()
    import al_bench.cli.run as cli
    from support import compose_config

    run_dir.mkdir(parents=True)
    (run_dir / ".hydra").mkdir()
    cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", f"paths.outputs_dir={tmp_path / 'out'}")
    with pytest.raises(SystemExit) as exc:
        cli.run_job(cfg)
    assert exc.value.code == 1
    assert not (tmp_path / "out" / "runs").exists()
    err = capsys.readouterr().err.strip()
    assert err == "al_bench: dataset.path: no such file"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_finished_run_is_skipped_before_hydra_writes_into_its_folder(tmp_path, monkeypatch):
    """A read-only outputs folder still lets the rerun of a finished run skip it: the check runs
    in on_run_start, before Hydra writes .hydra/ and its log there."""
    from al_bench.cli.callbacks import CheckConfig
    from al_bench.run import config_fingerprint, data_fingerprint
    from support import compose_config

    cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", f"paths.outputs_dir={tmp_path / 'out'}")
    s, plain = _settings(tmp_path)
    plain["paths"]["data_dir"] = cfg.paths.data_dir
    run_dir = Path(cfg.hydra.run.dir)
    run_dir.mkdir(parents=True)
    (run_dir / "curve.csv").write_text("budget\n1\n")
    (run_dir / "status.json").write_text(json.dumps({"status": "ok", "fingerprint": config_fingerprint(plain),
                                                     "data_fingerprint": data_fingerprint(s)}))
    with pytest.raises(SystemExit) as exc:
        CheckConfig().on_run_start(cfg)
    assert exc.value.code == 0


def test_threads_auto_prefers_the_scheduler_allocation(monkeypatch):
    import al_bench.cli.run as cli
    from al_bench.cli.run import job_threads

    s = types.SimpleNamespace(threads=None)
    hc = _FakeHydra("/x")
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(cli, "busy_cores", lambda: 0.0)  # an idle machine
    for var in ("SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NSLOTS", "LSB_DJOB_NUMPROC"):
        monkeypatch.delenv(var, raising=False)
    assert job_threads(s, hc) == cores
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert job_threads(s, hc) == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "")
    monkeypatch.setenv("NSLOTS", "1")
    assert job_threads(s, hc) == 1
    monkeypatch.setenv("NSLOTS", "100000")  # never more than the cores this process may use
    assert job_threads(s, hc) == cores


@pytest.mark.parametrize("busy, warned", [(0.0, False), (0.4, False), (0.6, True), (64.0, True)])
def test_threads_auto_does_not_depend_on_the_load_but_warns_about_it(monkeypatch, caplog, busy, warned):
    """Results may depend on the thread count in the last bits (the parts README's replay promise
    leaves out), so a busy machine does not lower it: a core counts as taken when other work
    keeps it busy more than half the time, and then the run's log says so."""
    import al_bench.cli.run as cli

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    for var in ("SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NSLOTS", "LSB_DJOB_NUMPROC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cli, "busy_cores", lambda: busy)
    with caplog.at_level("WARNING", logger="al_bench"):
        assert cli.job_threads(types.SimpleNamespace(threads=None), _FakeHydra("/x")) == 4
    assert ("CPUs busy with other work" in caplog.text) == warned
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "2")  # the scheduler's allocation is not second-guessed
    assert cli.job_threads(types.SimpleNamespace(threads=None), _FakeHydra("/x")) == 2


def test_busy_cores_reads_the_machine(monkeypatch):
    """From two /proc/stat samples: 3 of 4 CPUs' worth of non-idle time in the interval → 3.0."""
    import al_bench.cli.run as cli

    samples = iter([(1000, 2000), (1100, 2400)])  # (idle, total): 100 idle of 400 jiffies
    monkeypatch.setattr(cli, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert cli.busy_cores(sample_s=0) == pytest.approx(3.0)
    if os.path.exists("/proc/stat"):
        monkeypatch.undo()
        idle, total = cli._cpu_times()
        assert 0 <= idle <= total


def _signal_mid_run(tmp_path, sig):
    args = ["dataset=digits", "embedder=pixels", "strategy=badge", "budget.batch_size=5", "model.steps=40",
            "budget.fractions=[0.05,0.1,0.2]", f"paths.outputs_dir={tmp_path / 'out'}",
            f"paths.data_dir={tmp_path / 'data'}"]
    from al_bench.runfiles import run_dir_of
    from support import compose_config

    run_dir = tmp_path / "out" / "runs" / run_dir_of(compose_config(*args))
    proc = subprocess.Popen([sys.executable, "-m", "al_bench", *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (run_dir / "checkpoint.npz").is_file():
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before the signal; make it longer"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, run_dir


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_through_the_entry_point(tmp_path, sig, code):
    rc, err, run_dir = _signal_mid_run(tmp_path, sig)
    assert rc == code, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("al_bench: interrupted by " + sig.name) and str(run_dir) in last
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == sig.name
    assert (run_dir / "checkpoint.npz").is_file()


@pytest.mark.slow
def test_a_finished_run_reruns_when_its_data_file_changed(tmp_path):
    """Same config and code but another file under the same dataset.path: not a stale skip."""
    from al_bench.cli.run import settings_from
    from al_bench.run import run
    from support import compose_config

    rng = np.random.default_rng(0)
    y = np.arange(300) % 3
    images = np.clip(rng.normal(60 + 60 * y[:, None, None, None], 30, (300, 8, 8, 3)), 0, 255).astype(np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=y)
    s, plain = settings_from(compose_config("dataset=npz", f"dataset.path={path}", "embedder=pixels", "budget=smoke",
                                            "model.steps=30", f"paths.outputs_dir={tmp_path / 'out'}",
                                            f"paths.data_dir={tmp_path / 'data'}"))
    run_dir = tmp_path / "out" / "run"
    assert run(s, run_dir, plain) is not None
    assert run(s, run_dir, plain) is None  # unchanged: skipped
    np.savez(path, images=images, labels=(y + 1) % 3)
    assert run(s, run_dir, plain) is not None  # the data changed: run again
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_finished_run_whose_files_were_cut_runs_again(tmp_path):
    """A finished run whose curve.csv was cut since (a copy interrupted) is damaged: the same
    command runs it again instead of skipping it, so the folder does not stay damaged."""
    from al_bench.run import run

    s, plain = _settings(tmp_path, "model.steps=30", "budget.fractions=[0.05,0.1]")
    run_dir = tmp_path / "out" / "run"
    assert run(s, run_dir, plain) is not None
    good = (run_dir / "curve.csv").read_bytes()
    assert run(s, run_dir, plain) is None  # unchanged: skipped
    (run_dir / "curve.csv").write_bytes(good[:-40])
    assert run(s, run_dir, plain) is not None  # damaged: run again
    assert (run_dir / "curve.csv").read_bytes() == good
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"


# -- two processes on one run: the folder's lock ----------------------------------------------

def test_a_second_process_on_the_same_run_is_refused_and_writes_nothing(tmp_path):
    """While another process holds the run folder's lock (as a running run does), run() raises
    RunLocked naming the holder and writes no file; once the lock is free the run goes ahead."""
    from al_bench.run import RunLocked, run, run_lock

    s, plain = _settings(tmp_path, "model.steps=40", "budget.fractions=[0.05,0.1]")
    run_dir = tmp_path / "out" / "run"
    run_dir.mkdir(parents=True)
    with run_lock(run_dir):
        with pytest.raises(RunLocked, match=rf"another al_bench process is running {run_dir} \(pid {os.getpid()} on "):
            run(s, run_dir, plain)
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]
    run(s, run_dir, plain)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_locked_run_in_a_sweep_is_left_to_its_holder(tmp_path, monkeypatch, caplog):
    """In a multirun the job logs one line and returns; the holder's status is not touched."""
    from hydra.types import RunMode

    import al_bench.cli.run as cli
    from al_bench.run import run_lock
    from support import compose_config

    cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", f"paths.outputs_dir={tmp_path / 'out'}",
                         f"paths.data_dir={tmp_path / 'data'}")
    run_dir = tmp_path / "out" / "runs" / "x" / "seed0-abc"
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text('{"status": "running"}')
    monkeypatch.setattr(cli, "pin_threads", lambda n: None)
    monkeypatch.setattr(cli, "_catch_sigterm", lambda: None)
    monkeypatch.setattr(cli.HydraConfig, "get", staticmethod(lambda: _FakeHydra(run_dir, RunMode.MULTIRUN)))
    with run_lock(run_dir):
        assert cli.run_job(cfg) == "busy"
    assert (run_dir / "status.json").read_text() == '{"status": "running"}'
    assert "another al_bench process is running" in caplog.text


@pytest.mark.slow
def test_the_same_run_started_while_one_runs_exits_1_in_one_line(tmp_path):
    """Through the entry point: the test holds the lock as a running process would."""
    from al_bench.run import run_lock
    from al_bench.runfiles import run_dir_of
    from support import compose_config

    args = [*FAST, f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}"]
    run_dir = tmp_path / "out" / "runs" / run_dir_of(compose_config(*args))
    run_dir.mkdir(parents=True)
    with run_lock(run_dir):
        r = _main(*args, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith(f"al_bench: another al_bench process is running {run_dir}")
    assert "Traceback" not in r.stderr and not (run_dir / "status.json").exists()
    r = _main(*args, cwd=tmp_path)  # the lock is free again: the run goes ahead
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"


# -- a disk too full for Hydra's own files ----------------------------------------------------

def test_a_disk_too_full_for_hydra_stops_a_single_run_before_hydra_writes(tmp_path, monkeypatch, capsys):
    import shutil

    from al_bench.cli.callbacks import CheckConfig
    from support import compose_config

    cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", f"paths.outputs_dir={tmp_path / 'out'}",
                         f"paths.data_dir={tmp_path / 'data'}")
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=8 * 1024))
    with pytest.raises(SystemExit) as exc:
        CheckConfig().on_run_start(cfg)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == f"al_bench: cannot write: no space left on device ({tmp_path / 'out'}: 8 KiB free); nothing was started"
    assert not (tmp_path / "out").exists()


@contextmanager
def _tmpfs(path: Path, size: str):
    """A real, small file system at ``path`` (root and mount needed, else the test is skipped)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("sweep", [False, True])
def test_a_real_full_disk_ends_in_one_line_with_no_files(tmp_path, sweep):
    """A tmpfs filled up to 8 KiB: before, Hydra's own writes failed with a traceback and left
    0-byte .hydra/config.yaml and job log files."""
    with _tmpfs(tmp_path / "fs", "512k") as fs:
        free = shutil.disk_usage(fs).free
        (fs / "fill").write_bytes(b"\0" * (free - 8 * 1024))
        r = _main(*(["-m"] if sweep else []), *FAST, f"paths.outputs_dir={fs / 'out'}",
                  f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
        assert r.returncode == 1
        assert "Traceback" not in r.stderr
        assert "cannot write: no space left on device" in r.stderr and str(fs / "out") in r.stderr
        assert not (fs / "out").exists()

@pytest.mark.slow
def test_a_low_budget_sweep_with_a_cold_start_through_the_entry_point(tmp_path):
    """budget=low with a TypiClust initial set, as a user runs it: every strategy (and the
    power-sampled entropy variant) starts from the same initial set, and the first budget point
    is the initial set itself (C labels, round 0), one round per point after it."""
    out, data = f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}"
    low = ["dataset=digits", "embedder=pixels", "budget=low", "budget.per_class=[1,2,3]", "model.steps=40",
           "budget.initial_strategy=typiclust", "seed=0", out, data]
    r = _main("-m", *low, "strategy=entropy,kcenter", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _main(*low, "strategy=entropy", "strategy.sampling=power", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    runs = sorted((tmp_path / "out" / "runs").glob("digits/pixels/linear/low/*/seed0-*"))
    assert len(runs) == 3  # entropy top-k, entropy power, kcenter
    initial = []
    for run in runs:
        sel = pd.read_csv(run / "selected.csv")
        initial.append(sel.loc[sel["source"] == "initial", "pool_position"].tolist())
        curve = pd.read_csv(run / "curve.csv")
        assert curve["n_labeled"].tolist() == [10, 20, 30] and curve["rounds"].tolist() == [0, 1, 2]
    assert len(initial[0]) == 10 and initial[0] == initial[1] == initial[2]
    assert len({pd.read_csv(run / "curve.csv")["comparison_id"][0] for run in runs}) == 1
