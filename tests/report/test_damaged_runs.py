"""Runs that must not enter the results as they are (issue 23): a run folder copied under
another name (one more "seed" in the pairs), run files cut short or changed after the run ended
ok, and a ``selected.csv`` that cannot be the purchases its ``curve.csv`` counts (re-scoring).
Each is named in the problems, in ``tables/run_status.csv`` and in the printed report."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from al_bench.report import rescore as rs
from al_bench.report.cli import main as report_main
from al_bench.report.runs import read_runs
from al_bench.runfiles import CHECKED, CURVE, SELECTED, STATUS, file_checksums


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Real runs, in process: digits, pixels, the smoke schedule, random and entropy × 2 seeds."""
    from al_bench.cli.run import settings_from
    from al_bench.run import run
    from al_bench.runfiles import run_dir_of
    from support import compose_config

    out = tmp_path_factory.mktemp("made")
    for strategy in ("random", "entropy"):
        for seed in range(2):
            cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", "model.steps=10", "budget.batch_size=null",
                                 f"strategy={strategy}", f"seed={seed}", f"paths.outputs_dir={out}",
                                 f"paths.data_dir={out / 'data'}")
            s, plain = settings_from(cfg)
            run(s, out / "runs" / run_dir_of(cfg), plain)
    return out


@pytest.fixture
def out(made, tmp_path):
    """A copy of the runs (not of the data) to damage."""
    shutil.copytree(made / "runs", tmp_path / "runs")
    return tmp_path


def _run(out, strategy, seed):
    """(folder, its name relative to runs/) of the run of ``strategy`` at ``seed``."""
    (found,) = (out / "runs").glob(f"digits/pixels/linear/smoke/{strategy}/seed{seed}-*")
    return found, found.relative_to(out / "runs").as_posix()


def _without_checksums(run_dir):
    """status.json as a version before checksums wrote it."""
    status = json.loads((run_dir / STATUS).read_text())
    status.pop("sha256", None)
    (run_dir / STATUS).write_text(json.dumps(status))


def _pairs(runs, strategy="entropy"):
    """Seeds per budget point of ``strategy`` in the results."""
    res = runs.results
    return res[res.strategy == strategy].groupby("budget")["seed"].count().tolist()


def test_an_ok_status_vouches_for_every_file_the_run_wrote(made):
    run_dir, _ = _run(made, "entropy", 0)
    status = json.loads((run_dir / STATUS).read_text())
    written = {p.name for p in run_dir.iterdir() if p.name in CHECKED}
    assert set(status["sha256"]) == written == {"curve.csv", "selected.csv", "timing.csv", "config.yaml"}
    assert status["sha256"] == file_checksums(run_dir)


def test_a_copied_run_folder_counts_once_and_both_folders_are_named(out):
    src, rel = _run(out, "entropy", 0)
    shutil.copytree(src, src.parent / "seed0-copy")
    copy = rel.rsplit("/", 1)[0] + "/seed0-copy"
    runs = read_runs(out / "runs", out)
    assert _pairs(runs) == [2, 2, 2] and copy not in set(runs.results["run"])
    config_id = runs.results.loc[runs.results.run == rel, "config_id"].iloc[0]
    assert runs.problems == [
        f"{copy}: a copy of {rel} (config_id {config_id}, seed 0; identical results): counted once, as {rel}"]
    status = runs.status.set_index("run")
    assert status.loc[copy, "status"] == "duplicate" and status.loc[rel, "status"] == "ok"


def test_two_different_runs_of_one_config_and_seed_are_both_left_out(out):
    src, rel = _run(out, "entropy", 0)
    other = src.parent / "seed0-other"
    shutil.copytree(src, other)
    curve = (other / CURVE).read_text().replace(",0.05,65,", ",0.05,66,", 1)  # another result, same identity
    (other / CURVE).write_text(curve)
    _without_checksums(other)  # (not damaged: a run that wrote these files)
    runs = read_runs(out / "runs", out)
    other_rel = other.relative_to(out / "runs").as_posix()
    assert _pairs(runs) == [1, 1, 1] and set(runs.results["run"]).isdisjoint({rel, other_rel})
    (line,) = runs.problems
    assert line.startswith(f"{rel} and {other_rel}: the same run (config_id ") and "none of them is included" in line
    assert runs.status.set_index("run").loc[[rel, other_rel], "status"].tolist() == ["conflicting copies"] * 2


@pytest.mark.slow
def test_a_cut_curve_is_damaged_never_half_read(out, capsys):
    """The last 40 bytes of a curve.csv cut off: no "config unknow" group, no n = 1 gains, but
    the run named as damaged, in the printed report (exit 1) and in tables/run_status.csv."""
    run_dir, rel = _run(out, "entropy", 1)
    data = (run_dir / CURVE).read_bytes()
    (run_dir / CURVE).write_bytes(data[:-40])
    assert report_main([str(out)]) == 1
    printed = capsys.readouterr().out
    reason = "curve.csv: not the file the run wrote (its sha256 differs from the one in status.json: cut short or changed since)"
    assert f"  NOT INCLUDED: {rel}: damaged ({reason})" in printed.splitlines()
    assert "unknow" not in printed
    status = pd.read_csv(out / "tables" / "run_status.csv").set_index("run")
    assert status.loc[rel].tolist() == ["damaged", reason]
    results = pd.read_csv(out / "tables" / "results.csv")
    assert rel not in set(results["run"]) and results["config_id"].str.len().eq(12).all()


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[:-40], "curve.csv: cut short (the last line has no line end)"),
    (lambda b: b[:b.rstrip(b"\n").rfind(b"\n") + 1], "curve.csv: 2 budget point row(s), the run ended ok with 3"),
    (lambda b: b.replace(b",0.05,65,", b",,65,", 1), "curve.csv: budget is empty in row(s) 1"),
    (lambda b: b[:-14] + b",\n", "curve.csv: config_id is empty in row(s) 3"),
    (lambda b: b.replace(b",0.05,65,", b",0.05,65,1,", 1), "curve.csv: row 1 has {h1} cells, the header {h}"),
], ids=["cut mid-line", "cut at a line end", "empty budget", "empty config_id", "extra cell"])
def test_a_run_without_checksums_is_still_read_strictly(out, damage, reason):
    """Runs written before checksums: every row whole, identity filled, the row count of status.json."""
    run_dir, rel = _run(out, "entropy", 1)
    _without_checksums(run_dir)
    assert not read_runs(out / "runs", out).problems  # as written, it reads
    (run_dir / CURVE).write_bytes(damage((run_dir / CURVE).read_bytes()))
    h = len((run_dir / CURVE).read_text().splitlines()[0].split(","))  # the header's columns
    runs = read_runs(out / "runs", out)
    assert runs.problems == [f"{rel}: damaged ({reason.format(h=h, h1=h + 1)})"]
    assert rel not in set(runs.results["run"]) and _pairs(runs) == [1, 1, 1]


def test_a_changed_or_missing_file_the_status_vouches_for_names_that_file(out):
    run_dir, rel = _run(out, "random", 0)
    (run_dir / SELECTED).write_bytes((run_dir / SELECTED).read_bytes().replace(b",initial", b",strategy", 1))
    other, other_rel = _run(out, "random", 1)
    (other / "timing.csv").unlink()
    runs = read_runs(out / "runs", out)
    assert runs.problems == [
        f"{rel}: damaged (selected.csv: not the file the run wrote (its sha256 differs from the one in status.json: "
        "cut short or changed since))",
        f"{other_rel}: damaged (timing.csv: missing (status.json vouches for it))"]
    assert _pairs(runs, "random") == [] and _pairs(runs) == [2, 2, 2]


# -- re-scoring: selected.csv against curve.csv (runs written before checksums) -----------------

def _cut_to_199(frame):
    return frame.head(199)


def _negative(frame):
    frame.loc[frame.index[-1], "pool_position"] = -3
    return frame


def _past_the_pool(frame):
    frame.loc[frame.index[-1], "pool_position"] = 1295 + 5
    return frame


def _twice(frame):
    frame.loc[frame.index[-1], "pool_position"] = frame["pool_position"].iloc[0]
    return frame


@pytest.mark.parametrize("damage, reason", [
    (_cut_to_199, "selected.csv has 199 purchases, its curve.csv ends at 259 labels"),
    (_negative, "selected.csv has a negative pool position (-3)"),
    (_past_the_pool, "selected.csv has pool position 1300, outside the pool of 1295 items"),
    (_twice, "selected.csv buys a pool position twice"),
], ids=["199 of 259", "negative", "past the pool", "twice"])
def test_a_selection_that_does_not_match_its_curve_is_not_rescored(out, monkeypatch, damage, reason):
    run_dir, rel = _run(out, "entropy", 0)
    _without_checksums(run_dir)
    damage(pd.read_csv(run_dir / SELECTED)).to_csv(run_dir / SELECTED, index=False)
    results = read_runs(out / "runs", out).results
    one = results[results.run == rel]
    monkeypatch.setattr(rs, "_score", lambda *a: pytest.fail("a damaged selection was fitted"))
    scored, problems = rs.rescore(one, ["linear_std"], out / "runs", out)
    assert problems == [f"{rel}: {reason}, so it was not re-scored with linear_std"]
    assert scored["accuracy@linear_std"].isna().all() and len(scored) == len(one)
    assert not (out / "rescored").exists()


def test_rescoring_reads_the_selection_strictly(out, monkeypatch):
    run_dir, rel = _run(out, "entropy", 0)
    _without_checksums(run_dir)
    (run_dir / SELECTED).write_bytes((run_dir / SELECTED).read_bytes()[:-3])
    one = read_runs(out / "runs", out).results.query("run == @rel")
    monkeypatch.setattr(rs, "_score", lambda *a: pytest.fail("a damaged selection was fitted"))
    _, problems = rs.rescore(one, ["linear", "linear_std"], out / "runs", out)
    assert problems == [f"{rel}: selected.csv: cut short (the last line has no line end), so it was not "
                        "re-scored with linear, linear_std"]
    assert np.isfinite(one["accuracy"]).all()
