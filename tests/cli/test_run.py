"""The Hydra job (al_bench.cli.run): composition, config checks, run folders, a multirun and its
aggregation. In-process checks run by default; the subprocess runs of the real entry point are
in the slow tier."""

import re

import numpy as np
import pandas as pd
import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from al_bench.cli.run import ConfigCheckError, plain_config, settings_from
from al_bench.config import parse_settings
from al_bench.run import run_dir_name
from al_bench.strategies import REGISTRY
from support import ROOT, one_run
from support import compose_config as _compose
from support import main as _main


def test_default_config_composes_to_valid_settings():
    s = parse_settings(plain_config(_compose()))
    assert s.dataset.name == "auto" and s.embedder.name == "auto"
    assert s.strategy.name == "random" and s.budget.name == "standard"
    assert s.budget.fractions == (0.05, 0.10, 0.25, 0.50, 0.75, 1.0)


def test_smoke_experiment_sweeps_every_registered_strategy():
    cfg = _compose("experiment=smoke")
    params = cfg.hydra.sweeper.params
    assert params.strategy == "glob(*)" and params.seed == "0,1"
    assert sorted(p.stem for p in (ROOT / "al_bench" / "conf" / "strategy").glob("*.yaml")) == sorted(REGISTRY)
    assert cfg.budget.name == "smoke" and cfg.dataset.name == "digits" and cfg.embedder.name == "pixels"
    # the command line still picks the data
    cfg = _compose("experiment=smoke", "dataset=npz", "dataset.path=x.npz", "embedder=kmeans_patches")
    assert cfg.dataset.name == "npz" and cfg.embedder.name == "kmeans_patches"


BAD_CONFIGS = [
    ("budget.fractoins=[0.1]", "fractoins"),
    ("strategy=entrpy", "entrpy"),
    ("budget.fractions=[0.5,0.2]", "strictly increasing"),
    ("seed=abc", "seed"),
    ("strategy.params.k=3", "k"),
]


@pytest.mark.parametrize("override, message", BAD_CONFIGS)
def test_bad_config_is_refused_in_one_line_naming_it(override, message):
    """The checks the entry point and the sweeper run before any job, in process."""
    with pytest.raises((ConfigCheckError, HydraException, OmegaConfBaseException)) as exc:
        settings_from(_compose(override))
    assert message in str(exc.value)
    if isinstance(exc.value, ConfigCheckError):  # ours are one line; Hydra words its own (unknown keys)
        assert "\n" not in str(exc.value).strip()


def test_run_folder_is_named_by_the_config_in_one_place():
    """Hydra's run and sweep folders and run_dir_name() agree (one function builds both)."""
    cfg = _compose("dataset=digits", "embedder=pixels", "strategy=margin", "seed=4", "budget=smoke")
    _, plain = settings_from(cfg)
    name = run_dir_name(plain)
    assert re.fullmatch(r"digits/pixels/linear/smoke/margin/seed4-[0-9a-f]{12}", name)
    assert cfg.hydra.sweep.subdir == name
    assert cfg.hydra.run.dir.endswith("/runs/" + name)


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("overrides", [
    ["budget.initial=40"], ["budget.batch_size=30"], ["budget.fractions=[0.05,0.2]"], ["strategy.params.k=5"],
    ["strategy.random_fraction=0.2"], ["model.steps=100"], ["dataset.test_fraction=0.3"],
])
def test_configs_that_differ_in_anything_get_their_own_folder(overrides):
    base = ["dataset=digits", "embedder=pixels", "strategy=bald", "budget=smoke"]
    a = _compose(*base).hydra.sweep.subdir
    b = _compose(*base, *overrides).hydra.sweep.subdir
    assert a != b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]  # same readable names, other config id
    # where files go and how many threads run are not part of what is computed
    assert _compose(*base, "paths.outputs_dir=/elsewhere", "threads=1").hydra.sweep.subdir == a


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", ""])
def test_names_that_become_path_parts_are_validated(name):
    with pytest.raises(ConfigCheckError, match="budget.name"):
        settings_from(_compose(f"budget.name={name!r}" if name else "budget.name=''"))


@pytest.mark.slow
def test_a_sweep_with_two_jobs_in_one_folder_is_refused(tmp_path):
    """In process through the sweeper's own check: seed=0,0 are the same run."""
    from hydra_plugins.al_bench_sweeper.al_bench_sweeper import AlBenchSweeper

    class Loader:
        def load_sweep_config(self, master, overrides):
            return _compose(*overrides, f"paths.outputs_dir={tmp_path}")

    sweeper = AlBenchSweeper.__new__(AlBenchSweeper)
    sweeper.hydra_context = type("Ctx", (), {"config_loader": Loader()})()
    sweeper.config = None
    with pytest.raises(ConfigCheckError, match="2 jobs are the same run"):
        sweeper._check_and_record([["dataset=digits", "seed=0"], ["dataset=digits", "seed=0"]])
    assert not (tmp_path / "sweeps").exists()  # nothing written
    sweeper._check_and_record([["dataset=digits", "seed=0"], ["dataset=digits", "seed=1"]])
    listed = next((tmp_path / "sweeps").glob("*.txt")).read_text().split()
    assert len(listed) == 2 and len(set(listed)) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, message",
    [
        ("budget.fractoins=[0.1]", "fractoins"),
        ("strategy=entrpy", "entrpy"),
        ("budget.fractions=[0.5,0.2]", "strictly increasing"),
        ("seed=abc", "seed"),
        ("strategy.params.k=3", "k"),
    ],
)
def test_bad_config_fails_before_any_job_and_writes_nothing(tmp_path, override, message):
    out = tmp_path / "out"
    r = _main("-m", "strategy=random,entropy", override, f"paths.outputs_dir={out}", cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (out / "runs").exists()
    single = _main(override, f"paths.outputs_dir={out}", cwd=tmp_path)
    assert single.returncode != 0 and message in single.stderr
    assert not (out / "runs").exists()


@pytest.mark.slow
def test_multirun_then_aggregate(tmp_path):
    out = tmp_path / "out"
    r = _main("-m", "experiment=smoke", "strategy=random,entropy", "seed=0,1",
              "budget.fractions=[0.05,0.1]", "model.steps=40", f"paths.outputs_dir={out}",
              f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    runs = sorted(p.parent.relative_to(out / "runs").as_posix().rsplit("-", 1)[0]
                  for p in (out / "runs").rglob("curve.csv"))
    assert runs == [f"digits/pixels/linear/smoke/{s}/seed{k}" for s in ("entropy", "random") for k in (0, 1)]
    gains = pd.read_csv(out / "tables" / "budget_gains.csv")
    assert set(gains["strategy"]) == {"random", "entropy"} and set(gains["n_seeds"]) == {2}
    results = pd.read_csv(out / "tables" / "results.csv")
    assert len(results) == 2 * 2 * 2
    assert (out / "figures" / "learning_curves.png").stat().st_size > 10_000
    assert (one_run(out, "digits/pixels/linear/smoke/entropy/seed1") / "selected.csv").is_file()
    assert "aggregate: 4 finished run(s)" in r.stdout


@pytest.mark.slow
def test_smoke_experiment_as_a_newcomer_runs_it(tmp_path):
    """The README's main command, unchanged but for where it writes: every strategy × 2 seeds."""
    out = tmp_path / "out"
    r = _main("-m", "experiment=smoke", f"paths.outputs_dir={out}", f"paths.data_dir={tmp_path / 'data'}",
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    gains = pd.read_csv(out / "tables" / "budget_gains.csv")
    assert set(gains["strategy"]) == set(REGISTRY)
    assert set(gains["n_seeds"]) == {2} and set(gains["budget"]) == {0.05, 0.1, 0.2}
    status = pd.read_csv(out / "tables" / "run_status.csv")
    assert len(status) == 2 * len(REGISTRY) and set(status["status"]) == {"ok"}


@pytest.mark.slow
def test_own_folder_with_bad_files_runs_end_to_end(tmp_path):
    """dataset=folder through the real entry point: bad files are skipped and listed in the run."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for cls, tint in (("sunny", (200, 180, 60)), ("rainy", (40, 60, 120))):
        (root / cls).mkdir(parents=True)
        for i in range(30):
            px = np.clip(rng.normal(tint, 40, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(px).save(root / cls / f"{i:02d}.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(root / "rainy" / "full.jpg")
    data = (root / "rainy" / "full.jpg").read_bytes()
    (root / "rainy" / "cut.jpg").write_bytes(data[: len(data) // 3])
    (root / "sunny" / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    r = _main("dataset=folder", f"dataset.root={root}", "embedder=kmeans_patches", "embedder.image_size=16",
              "embedder.patch=4", "embedder.centroids=8", "embedder.n_patches=1000", "budget=smoke",
              "budget.initial=4", "budget.fractions=[0.2,0.5]", "budget.batch_size=4", "strategy=kcenter",
              "model.steps=30", f"paths.outputs_dir={out}",
              f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    run = one_run(out, "folder/kmeans_patches/linear/smoke/kcenter/seed0")
    skipped = pd.read_csv(run / "skipped.csv")
    assert sorted(skipped["id"]) == ["rainy/cut.jpg", "sunny/empty.png"]
    curve = pd.read_csv(run / "curve.csv")
    assert set(curve["dataset"]) == {"folder:imgs"} and set(curve["embedder"]) == {"kmeans_patches"}
    assert set(curve["n_skipped_items"]) == {2} and curve["accuracy"].iloc[-1] > 0.8
    selected = pd.read_csv(run / "selected.csv")
    assert selected["id"].str.match(r"^(sunny/\d\d\.png|rainy/(\d\d\.png|full\.jpg))$").all()


@pytest.mark.slow
def test_app_help_names_the_groups_and_examples_not_hydras_default():
    help_cfg = _compose().hydra.help
    assert help_cfg.app_name == "al_bench"
    assert "$APP_CONFIG_GROUPS" in help_cfg.template and "powered by Hydra" not in help_cfg.template
    examples = [line.strip() for line in help_cfg.template.splitlines() if line.strip().startswith("python -m al_bench -m")]
    assert len(examples) == 3
    for line in examples:  # each example composes (sweeps cut to their first value)
        args = [a for a in line.split("#")[0].split()[3:] if a != "-m"]
        args = [a.split(",")[0].replace("glob(*)", "random").strip("'") for a in args]
        _compose(*args)


@pytest.mark.slow
def test_help_prints_the_app_help(tmp_path):
    r = _main("--help", cwd=tmp_path)
    assert r.returncode == 0 and "Config groups" in r.stdout and "strategy: auto, badge" in r.stdout


def test_sweep_progress_counts_finished_runs_of_the_sweep(tmp_path):
    import os
    import time

    from al_bench.cli.run import sweep_progress
    from al_bench.runfiles import write_status

    runs = [tmp_path / "runs" / f"r{k}" for k in range(4)]
    (tmp_path / "sweeps").mkdir()
    listing = tmp_path / "sweeps" / "s.txt"
    listing.write_text("".join(f"runs/r{k}\n" for k in range(4)))
    os.utime(listing, (time.time() - 120, time.time() - 120))  # the sweep started 2 min ago
    write_status(runs[0], "ok")
    write_status(runs[1], "failed")
    write_status(runs[2], "running")
    line = sweep_progress(tmp_path, runs[1])
    assert line.startswith("sweep: 2 of 4 runs finished, elapsed 2m0") and "about 2m0" in line
    assert sweep_progress(tmp_path, tmp_path / "elsewhere") is None


# -- the sweeper: finished runs left out at submission, lost jobs reported after aggregating ----

def _sweeper(tmp_path, launcher=None):
    from hydra_plugins.al_bench_sweeper.al_bench_sweeper import AlBenchSweeper

    class Loader:
        def load_sweep_config(self, master_config, sweep_overrides):
            return _compose(*sweep_overrides, f"paths.outputs_dir={tmp_path / 'out'}",
                            f"paths.data_dir={tmp_path / 'data'}")

    sweeper = AlBenchSweeper.__new__(AlBenchSweeper)
    sweeper.hydra_context = type("Ctx", (), {"config_loader": Loader()})()
    sweeper.config = _compose(f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}")
    sweeper.launcher = launcher
    sweeper.params = {}
    sweeper.max_batch_size = None
    sweeper.batch_index = 0
    return sweeper


def _finish(tmp_path, *overrides):
    """A finished run of ``overrides`` as the run leaves it (status ok with both fingerprints)."""
    import json
    from pathlib import Path

    from al_bench.run import config_fingerprint, data_fingerprint

    cfg = _compose(*overrides, f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}")
    s, plain = settings_from(cfg)
    run_dir = Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)
    run_dir.mkdir(parents=True)
    (run_dir / "curve.csv").write_text("budget\n1\n")
    (run_dir / "status.json").write_text(json.dumps({"status": "ok", "fingerprint": config_fingerprint(plain),
                                                     "data_fingerprint": data_fingerprint(s)}))
    return run_dir


@pytest.mark.slow
def test_finished_runs_are_left_out_at_submission(tmp_path):
    """A resubmitted sweep submits only what has not finished; every run is still listed."""
    _finish(tmp_path, "dataset=digits", "seed=0")
    jobs = [["dataset=digits", "seed=0"], ["dataset=digits", "seed=1"]]
    assert _sweeper(tmp_path)._check_and_record(jobs) == [jobs[1]]
    listed = next((tmp_path / "out" / "sweeps").glob("*.txt")).read_text().split()
    assert len(listed) == 2


@pytest.mark.slow
def test_a_sweep_whose_runs_all_finished_writes_nothing_and_launches_nothing(tmp_path, monkeypatch):
    """A read-only outputs folder: every run finished, so nothing is launched and the sweep goes
    on to aggregation (which says in one line that it cannot write); with a run left to do, the
    sweep stops before any job in one line."""
    import errno
    import os

    import al_bench.runfiles as runfiles

    def read_only(path, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    class NoLaunch:
        def launch(self, *a, **k):
            raise AssertionError("nothing should be launched")

    _finish(tmp_path, "dataset=digits", "seed=0")
    _finish(tmp_path, "dataset=digits", "seed=1")
    monkeypatch.setattr(runfiles, "atomic_write_text", read_only)
    assert _sweeper(tmp_path, NoLaunch()).sweep(["dataset=digits", "seed=0,1"]) == []
    assert not (tmp_path / "out" / "runs" / "multirun.yaml").exists()
    with pytest.raises(ConfigCheckError, match="cannot write: read-only file system .*no job was started"):
        _sweeper(tmp_path, NoLaunch()).sweep(["dataset=digits", "seed=0,1,2"])


@pytest.mark.slow
def test_a_job_the_launcher_loses_is_reported_after_aggregating_what_finished(tmp_path, capsys):
    """A cancelled SLURM job makes submitit raise inside launch(): the sweep does not stop with a
    traceback; aggregation runs, lists the run that did not finish and the launcher's one line,
    and the sweep exits 1."""
    from al_bench.cli.callbacks import SWEEP_FAILURES, AggregateAfterSweep

    class Cancelled:
        def launch(self, batch, initial_job_idx):
            raise RuntimeError("Job 4242_1 (task: 0) with path /x/4242_1_0_result.pkl\nhas not produced any output "
                               "(state: CANCELLED by 0)")

    from pathlib import Path

    from al_bench.run import run

    args = ["dataset=digits", "embedder=pixels", "budget=smoke", "model.steps=40", "budget.fractions=[0.05,0.1]"]
    cfg = _compose(*args, "seed=0", f"paths.outputs_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}")
    settings, plain = settings_from(cfg)
    run(settings, Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir), plain)  # seed 0 finished before
    sweeper = _sweeper(tmp_path, Cancelled())
    assert sweeper.sweep([*args, "seed=0,1"]) == []
    assert len(SWEEP_FAILURES) == 1 and "RuntimeError: Job 4242_1" in SWEEP_FAILURES[0]
    with pytest.raises(SystemExit) as exc:
        AggregateAfterSweep().on_multirun_end(_compose(*args, f"paths.outputs_dir={tmp_path / 'out'}"))
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "aggregate: 1 finished run(s)" in out and "seed1" in out and "never started" in out
    assert "LAUNCHER: jobs #0-#0: the launcher stopped: RuntimeError: Job 4242_1" in out
    assert "(state: CANCELLED by 0)" in out  # submitit's second line says what happened


def test_a_single_run_on_a_read_only_outputs_folder_ends_in_one_line(tmp_path, capsys):
    """Hydra makes the run folder right after the config check, with a 55-line OSError traceback
    on a read-only file system: the check says it in one line first (a real read-only bind mount
    as root; a folder without write permission otherwise), exit 1, nothing made."""
    import os
    import subprocess

    from al_bench.cli.callbacks import CheckConfig

    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = False
    if os.geteuid() == 0:
        if subprocess.run(["mount", "--bind", str(ro), str(ro)], capture_output=True).returncode == 0:
            mounted = subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True).returncode == 0
            if not mounted:
                subprocess.run(["umount", "-l", str(ro)], check=False)
        if not mounted:
            pytest.skip("root cannot be kept from writing without a read-only mount")
    else:
        ro.chmod(0o555)
    try:
        cfg = _compose("dataset=digits", "embedder=pixels", "budget=smoke", f"paths.outputs_dir={ro / 'out'}")
        with pytest.raises(SystemExit) as exc:
            CheckConfig().on_run_start(cfg)
        assert exc.value.code == 1
        err = capsys.readouterr().err
        what = "read-only file system" if mounted else "permission denied"
        assert err == f"al_bench: cannot write: {what} ({ro / 'out'}); nothing was started\n"
        assert not (ro / "out").exists()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(ro)], check=False)
        else:
            ro.chmod(0o755)
