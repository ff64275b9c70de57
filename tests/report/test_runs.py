import numpy as np
import pandas as pd
import pytest

from al_bench.report.runs import SORT_KEYS, STATUS_COLUMNS, expected_runs, read_run, read_runs
from al_bench.runfiles import CURVE, TIMING_COLUMNS, write_csv, write_status


def test_reads_curves_with_timing_merged_by_budget_point(curve_results, write_runs, tmp_path):
    dirs = write_runs(tmp_path / "runs", curve_results)
    one = read_run(dirs[0])
    assert len(one) == 3
    assert [c for c in one.columns if c in TIMING_COLUMNS] == list(TIMING_COLUMNS)  # after the curve columns
    assert one.columns[-len(TIMING_COLUMNS):].tolist() == list(TIMING_COLUMNS)
    assert one["selection_seconds"].tolist() == [0.001, 0.002, 0.003]


def test_a_run_without_timing_has_only_its_curve(curve_results, tmp_path):
    run = tmp_path / "r"
    write_csv(curve_results.drop(columns=[*TIMING_COLUMNS, "run"]).head(3), run / CURVE)
    assert not set(TIMING_COLUMNS) & set(read_run(run).columns)


def test_rows_come_from_the_files_not_the_folder_names(curve_results, write_runs, tmp_path):
    # folders are named run-0 … run-5 (in strategy order entropy, random); the frame is sorted by
    # the files' own columns, and ``run`` is the folder relative to runs/
    write_runs(tmp_path / "runs", curve_results)
    runs = read_runs(tmp_path / "runs", tmp_path)
    assert runs.problems == []
    assert len(runs.results) == len(curve_results)
    assert runs.results[SORT_KEYS].equals(runs.results[SORT_KEYS].sort_values(SORT_KEYS, kind="stable"))
    first = runs.results.iloc[0]
    assert (first["strategy"], first["seed"], first["budget"], first["run"]) == ("entropy", 0, 0.1, "run-0")
    assert runs.results["run"].nunique() == 6
    assert runs.status.columns.tolist() == STATUS_COLUMNS
    assert runs.status["status"].tolist() == ["ok"] * 6


def test_failed_unfinished_and_curveless_runs_are_problems_not_results(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "runs", curve_results)
    write_status(tmp_path / "runs" / "broken", "failed", error="ValueError: boom")
    write_status(tmp_path / "runs" / "killed", "running")
    write_status(tmp_path / "runs" / "lost", "ok")  # says ok, but has no curve.csv
    (tmp_path / "runs" / "garbled").mkdir()
    (tmp_path / "runs" / "garbled" / "status.json").write_text("{not json")
    runs = read_runs(tmp_path / "runs", tmp_path)
    status = runs.status.set_index("run")["status"]
    assert status["broken"] == "failed" and status["killed"] == "running"
    assert status["lost"] == "missing curve.csv" and status["garbled"] == "unreadable"
    assert "broken: failed (ValueError: boom)" in runs.problems
    assert "killed: running" in runs.problems and "lost: missing curve.csv" in runs.problems
    assert set(runs.results["run"]) == {f"run-{k}" for k in range(6)}


def test_runs_a_sweep_announced_but_never_started(curve_results, write_runs, tmp_path):
    dirs = write_runs(tmp_path / "runs", curve_results)
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "a.txt").write_text(f"{dirs[0]}\n{tmp_path / 'runs' / 'ghost'}\n\n")
    assert expected_runs(tmp_path) == {dirs[0].resolve(), (tmp_path / "runs" / "ghost").resolve()}
    runs = read_runs(tmp_path / "runs", tmp_path)
    assert runs.status.iloc[-1].tolist() == ["ghost", "never started", ""]
    assert runs.problems == [f"ghost: never started (listed by a sweep in {tmp_path / 'sweeps'})"]


def test_no_finished_run_is_the_first_problem(tmp_path):
    write_status(tmp_path / "runs" / "broken", "failed")
    runs = read_runs(tmp_path / "runs", tmp_path)
    assert runs.results.empty
    assert runs.problems == [f"no finished runs under {tmp_path / 'runs'}", "broken: failed"]
    empty = read_runs(tmp_path / "nothing", tmp_path)
    assert empty.results.empty and empty.status.empty and list(empty.status.columns) == STATUS_COLUMNS


def test_an_announced_run_outside_the_runs_folder_is_named_by_its_full_path(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "runs", curve_results)
    (tmp_path / "sweeps").mkdir()
    outside = (tmp_path / "elsewhere" / "r").resolve()
    (tmp_path / "sweeps" / "a.txt").write_text(f"{outside}\n")
    runs = read_runs(tmp_path / "runs", tmp_path)
    assert runs.status.iloc[-1].tolist() == [str(outside), "never started", ""]
    assert pd.api.types.is_string_dtype(runs.results["run"])
    # the same run finished there (hydra.sweep.dir pointed outside paths.outputs_dir): it ran, and
    # is named as outside the folder read, not as never started
    write_status(outside, "ok")
    runs = read_runs(tmp_path / "runs", tmp_path)
    assert runs.status.iloc[-1].tolist() == [str(outside), "outside the runs folder", ""]
    assert runs.problems[-1].startswith(f"{outside}: written outside {tmp_path / 'runs'}, so not included")


@pytest.mark.slow
def test_runs_of_different_configs_are_never_merged(curve_results, tmp_path):
    """Two comparison groups (e.g. another budget.initial) stay apart in every table, and two
    variants of one strategy name (other parameters) are reported as two strategies."""
    from al_bench.report import aggregate
    from al_bench.runfiles import CURVE, write_csv, write_status

    base = curve_results.drop(columns=["run"]).assign(comparison_id="c1", strategy_id="s-default")
    variant = base[base.strategy == "entropy"].assign(strategy_id="s-other", accuracy=lambda d: d.accuracy + 0.05)
    other_group = base.assign(comparison_id="c2", accuracy=lambda d: d.accuracy - 0.1)
    k = 0
    for frame in (base, variant, other_group):
        for _, rows in frame.groupby(["strategy", "seed"]):
            write_csv(rows, tmp_path / "runs" / f"r{k}" / CURVE)
            write_status(tmp_path / "runs" / f"r{k}", "ok")
            k += 1
    report = aggregate(tmp_path)
    gains = report.gains
    assert set(gains["comparison_id"]) == {"c1", "c2"}
    c1 = gains[gains.comparison_id == "c1"]
    assert set(c1["strategy"]) == {"random", "entropy@s-defa", "entropy@s-othe"}
    assert set(gains[gains.comparison_id == "c2"]["strategy"]) == {"random", "entropy"}
    n_seeds = curve_results["seed"].nunique()
    assert set(gains["n_seeds"]) == {n_seeds}  # no row averages two configurations
    a = c1[c1.strategy == "entropy@s-othe"]["gain_mean"].to_numpy()
    b = c1[c1.strategy == "entropy@s-defa"]["gain_mean"].to_numpy()
    np.testing.assert_allclose(a - b, 0.05, atol=1e-9)


def test_sweep_listings_relative_to_the_outputs_folder_resolve_from_anywhere(tmp_path, monkeypatch):
    """A sweep run with a relative paths.outputs_dir, aggregated from another directory (or a
    copied outputs folder): its announced runs are found, not reported as never started."""
    out = tmp_path / "copied"
    (out / "sweeps").mkdir(parents=True)
    (out / "sweeps" / "t.txt").write_text("runs/a/seed0-0123456789ab\n")
    write_status(out / "runs" / "a" / "seed0-0123456789ab", "failed")
    monkeypatch.chdir(tmp_path)
    assert expected_runs(out) == {(out / "runs" / "a" / "seed0-0123456789ab").resolve()}
    runs = read_runs(out / "runs", out)
    assert not any("never started" in p for p in runs.problems)
