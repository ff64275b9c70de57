import subprocess
import sys

import pytest

from al_bench.report.cli import main
from al_bench.runfiles import write_status


@pytest.mark.slow
def test_prints_the_summary_the_verdict_and_the_gains_and_exits_0(curve_results, write_runs, tmp_path, capsys):
    write_runs(tmp_path / "runs", curve_results)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"aggregate: 6 finished run(s) under {tmp_path}"
    assert out[3].startswith("verdict (seed-paired t-test, p < 0.05")
    assert out[4] == "  d · e · m · s"
    assert [line.split(":")[0].strip() for line in out[5:8]] == ["10% (50 labels)", "20% (100 labels)",
                                                                  "40% (200 labels)"]
    assert out[8].split() == ["dataset", "strategy", "budget", "n_labeled", "accuracy_mean", "gain_mean",
                              "gain_std", "gain_ci_low", "gain_ci_high", "p_value", "n_seeds"]
    assert len(out) == 9 + 6  # one line per strategy × budget point
    assert out[-1].split()[:3] == ["d", "random", "0.4000"] and out[-1].split()[-1] == "3"


@pytest.mark.slow
def test_no_log_x_draws_the_learning_curves_on_a_linear_axis(curve_results, write_runs, tmp_path, capsys):
    write_runs(tmp_path / "runs", curve_results)
    figure = tmp_path / "figures" / "learning_curves.png"
    assert main([str(tmp_path)]) == 0
    log = figure.read_bytes()
    assert main([str(tmp_path), "--no-log-x"]) == 0
    linear = figure.read_bytes()
    assert main([str(tmp_path), "--log-x"]) == 0
    assert figure.read_bytes() == log != linear


@pytest.mark.slow
def test_a_run_left_out_exits_1(curve_results, write_runs, tmp_path, capsys):
    write_runs(tmp_path / "runs", curve_results)
    write_status(tmp_path / "runs" / "broken", "failed", error="boom")
    assert main([str(tmp_path)]) == 1
    assert "  NOT INCLUDED: broken: failed (boom)" in capsys.readouterr().out.splitlines()


@pytest.mark.slow
def test_runs_dir_flag(curve_results, write_runs, tmp_path, capsys):
    write_runs(tmp_path / "elsewhere", curve_results)
    (tmp_path / "out").mkdir()
    assert main([str(tmp_path / "out"), "--runs-dir", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "out" / "tables" / "results.csv").is_file()


def test_no_such_folder_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"aggregate: no such folder: {tmp_path / 'missing'}\n"


def test_help_lists_every_registered_output(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for f in ["tables/results.csv", "tables/run_status.csv", "tables/budget_gains.csv",
              "tables/labels_to_match.csv", "figures/learning_curves.png", "tables/aubc.csv",
              "tables/penalty_matrix.csv", "figures/penalty_matrix.png", "figures/gains.png", "tables/verdict.csv",
              "--no-log-x"]:
        assert f in out


@pytest.mark.slow
def test_python_m_al_bench_report(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "runs", curve_results)
    r = subprocess.run([sys.executable, "-m", "al_bench.report", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"aggregate: 6 finished run(s) under {tmp_path}\n")


def test_a_read_only_outputs_folder_ends_in_one_line(curve_results, write_runs, tmp_path, capsys):
    """On a real read-only bind mount (root needed, else skipped): exit 1, one line, no traceback."""
    import os

    src, ro = tmp_path / "src", tmp_path / "ro"
    write_runs(src / "runs", curve_results)
    ro.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "--bind", str(src), str(ro)], capture_output=True).returncode:
        pytest.skip("needs root to bind-mount a folder read-only")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        assert main([str(ro)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"aggregate: cannot write: read-only file system ({ro}/tables") and err.count("\n") == 1
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
