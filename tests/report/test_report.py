"""al_bench.report (the package's __init__): aggregate and its report."""

import pandas as pd

from al_bench.report import AggregateReport, aggregate
from al_bench.runfiles import write_csv, write_status


def test_aggregate_reads_files_and_lists_failed_runs(paired_table, tmp_path):
    table = paired_table
    for (strategy, seed), rows in table.groupby(["strategy", "seed"]):
        run = tmp_path / "runs" / "any" / "name" / f"{strategy}-{seed}"
        write_csv(rows, run / "curve.csv")
        write_status(run, "ok")
    write_status(tmp_path / "runs" / "broken", "failed", error="ValueError: boom")
    write_status(tmp_path / "runs" / "killed", "running")
    report = aggregate(tmp_path)
    assert len(report.results) == len(table)
    assert sorted(p.split(":")[0] for p in report.problems) == ["broken", "killed"]
    assert "boom" in " ".join(report.problems)
    for f in ["tables/results.csv", "tables/budget_gains.csv", "tables/labels_to_match.csv",
              "tables/run_status.csv", "figures/learning_curves.png"]:
        assert (tmp_path / f).stat().st_size > 0, f
    gains = pd.read_csv(tmp_path / "tables" / "budget_gains.csv")
    assert set(gains["strategy"]) == {"random", "entropy"}


def test_the_report_holds_what_was_written(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "runs", curve_results)
    report = aggregate(tmp_path)
    assert report.problems == []
    assert report.figure == tmp_path / "figures" / "learning_curves.png"
    assert report.gains is report.tables["budget_gains"] and report.to_match is report.tables["labels_to_match"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "tables" / "budget_gains.csv"), report.gains,
                                  check_dtype=False)
    written = pd.read_csv(tmp_path / "tables" / "results.csv")
    assert written.columns.tolist() == report.results.columns.tolist()
    assert written.columns[-1] == "run" and len(written) == len(curve_results)
    assert report.summary().splitlines() == [
        f"aggregate: 6 finished run(s) under {tmp_path}",
        f"  figure: {tmp_path / 'figures' / 'learning_curves.png'}",
        f"  tables: {tmp_path / 'tables'}",
    ]


def test_runs_dir_can_be_elsewhere(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "elsewhere", curve_results)
    report = aggregate(tmp_path / "out", runs_dir=tmp_path / "elsewhere")
    assert len(report.results) == len(curve_results)
    assert (tmp_path / "out" / "tables" / "budget_gains.csv").is_file()


def test_without_finished_runs_only_the_status_is_written(tmp_path):
    write_status(tmp_path / "runs" / "broken", "failed", error="boom")
    report = aggregate(tmp_path)
    assert isinstance(report, AggregateReport)
    assert report.results.empty and report.gains.empty and report.to_match.empty and report.figure is None
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*.csv"))] == ["tables/run_status.csv"]
    assert not (tmp_path / "figures").exists()
    assert report.summary().splitlines() == [
        f"aggregate: 0 finished run(s) under {tmp_path}",
        f"  tables: {tmp_path / 'tables'}",
        f"  NOT INCLUDED: no finished runs under {tmp_path / 'runs'}",
        "  NOT INCLUDED: broken: failed (boom)",
    ]
