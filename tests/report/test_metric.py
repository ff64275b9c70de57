"""--metric: gains, AUBC, penalty matrix, labels-to-match, curves and the verdict on another column
of curve.csv, written beside the accuracy files (which stay as the default writes them), on run
folders of the BOUGHT scenario (conftest): random is best by accuracy, entropy by balanced accuracy."""

import pandas as pd
import pytest

from al_bench.errors import UserError
from al_bench.report import aggregate, verdict_summary
from al_bench.report.cli import main
from al_bench.report.metric import check_metric, for_metric, metric_label, suffixed
from al_bench.report.reports.aubc import aubc
from al_bench.report.reports.budget_gains import COLUMNS as GAIN_COLUMNS
from al_bench.report.reports.budget_gains import budget_gains
from al_bench.report.reports.labels_to_match import labels_to_match
from al_bench.report.reports.penalty_matrix import penalty_matrix
from al_bench.report.reports.verdict import verdict


@pytest.fixture
def results(class_run_files):
    """The scenario's results frame, built in memory (as read_runs gives it, with ``run``)."""
    frames = [class_run_files(s, seed)[0].assign(run=f"{s}/{seed}") for s in ("random", "entropy") for seed in range(3)]
    return pd.concat(frames, ignore_index=True)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.glob("*/*")) if p.is_file()}


def test_the_verdict_names_its_metric_and_changes_with_it(results):
    acc, bal = verdict(results), verdict(results, metric="balanced_accuracy")
    assert acc["metric"].tolist() == ["accuracy"] * 2 and acc.columns[-1] == "metric"
    assert acc["best"].tolist() == ["random", "random"] and bal["best"].tolist() == ["entropy", "entropy"]
    assert bal["metric"].tolist() == ["balanced_accuracy"] * 2
    assert bal["best_balanced_accuracy"].tolist() == pytest.approx([0.57, 0.67])  # (0.55 + 0.57 + 0.59) / 3 …
    assert "best_accuracy" not in bal and bal["beats_random"].tolist() == ["yes", "yes"]
    assert verdict_summary(acc).splitlines()[0].startswith("verdict (seed-paired t-test, p < 0.05; gain over random "
                                                           "in accuracy points")
    assert verdict_summary(bal).splitlines()[0].startswith("verdict on balanced accuracy (seed-paired t-test, p < 0.05; "
                                                           "gain over random in balanced accuracy points")


def test_gains_and_aubc_are_computed_on_the_metric(results):
    table = budget_gains(results, metric="balanced_accuracy")
    assert list(table.columns) == [c.replace("accuracy", "balanced_accuracy") for c in GAIN_COLUMNS] + ["metric"]
    g = table.set_index(["strategy", "budget"])
    assert g.loc[("entropy", 0.5), "gain_mean"] == pytest.approx(0.16)  # 0.15, 0.16, 0.17 at seeds 0, 1, 2
    assert g.loc[("entropy", 0.5), "balanced_accuracy_mean"] == pytest.approx(0.67)
    assert budget_gains(results).set_index(["strategy", "budget"]).loc[("entropy", 0.5), "gain_mean"] == \
        pytest.approx(-0.05)
    a = aubc(results, metric="worst_class_recall")
    row = a[(a["strategy"] == "entropy") & (a["level"] == "strategy")].iloc[0]
    assert row["aubc_mean"] == pytest.approx(0.25) and row["gain_mean"] == pytest.approx(0.25)  # 0.2 → 0.3 vs 0


def test_without_a_full_pool_value_of_the_metric_it_says_so(results):
    pm = penalty_matrix(results, metric="balanced_accuracy")
    assert set(pm["rule"]) == {"every point (no full-pool balanced_accuracy recorded)"} and pm["n_points"].eq(2).all()
    assert pm.set_index("strategy").loc["entropy", "random"] == 1.0
    ltm = labels_to_match(results, metric="macro_f1")
    assert set(ltm["reached"]) == {"no full-pool macro_f1 recorded"} and ltm["target_macro_f1"].isna().all()
    full = results.assign(full_pool_balanced_accuracy=0.6)  # recorded: the 99 % rule and the target apply
    assert set(penalty_matrix(full, metric="balanced_accuracy")["rule"]) == {
        "random below 99% of full-pool balanced_accuracy"}
    hit = labels_to_match(full, metric="balanced_accuracy").set_index("strategy")
    assert hit.loc["entropy", "reached"] == "yes" and hit.loc["entropy", "labels_to_match"] == pytest.approx(8 + 8 * 0.3)


def test_accuracy_tables_are_unchanged_and_named_as_before(results):
    for table in (budget_gains(results), penalty_matrix(results), aubc(results), labels_to_match(results)):
        assert "metric" not in table and for_metric(table, "accuracy") is table


def test_the_choices(results):
    assert check_metric("macro_f1") == "macro_f1"
    assert check_metric("accuracy@linear_std", ("linear_std",)) == "accuracy@linear_std"
    with pytest.raises(UserError, match=r"^--metric accuracy@linear_std: not a metric .*accuracy@<head> with --heads$"):
        check_metric("accuracy@linear_std")
    with pytest.raises(UserError, match="choose one of accuracy, balanced_accuracy, macro_f1, worst_class_recall"):
        check_metric("f1")
    assert suffixed("tables/verdict.csv", "accuracy") == "tables/verdict.csv"
    assert suffixed("figures/gains.png", "macro_f1") == "figures/gains.macro_f1.png"
    assert metric_label("accuracy@linear_std") == "accuracy under linear_std"


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_another_metric_is_written_beside_accuracy_which_stays_as_the_default_writes_it(
        write_class_runs, tmp_path, tables_only):
    write_class_runs(tmp_path / "runs")
    aggregate(tmp_path)
    default = _files(tmp_path)
    report = aggregate(tmp_path, metric="balanced_accuracy")
    both = _files(tmp_path)
    assert {k: v for k, v in both.items() if k in default} == default  # every accuracy file byte for byte
    assert sorted(set(both) - set(default)) == [f"tables/{t}.balanced_accuracy.csv" for t in
                                                ("aubc", "budget_gains", "labels_to_match", "penalty_matrix", "stopping",
                                                 "verdict")]
    assert report.metric == "balanced_accuracy" and report.tables["verdict"]["best"].tolist() == ["entropy"] * 2
    assert report.accuracy_outputs["verdict"] == tmp_path / "tables" / "verdict.csv"
    assert "  metric: balanced_accuracy (its tables and figures are named <report>.balanced_accuracy.csv/.png; " \
           "the accuracy ones beside them were written too)" in report.summary().splitlines()


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_an_earlier_metric_s_files_do_not_outlive_the_next_aggregation(write_class_runs, tmp_path, tables_only):
    write_class_runs(tmp_path / "runs")
    aggregate(tmp_path, metric="balanced_accuracy")
    aggregate(tmp_path, metric="macro_f1")
    names = sorted(_files(tmp_path))
    assert not [n for n in names if "balanced_accuracy" in n] and "tables/verdict.macro_f1.csv" in names
    (tmp_path / "tables" / "notes.balanced_accuracy.csv").write_text("mine\n")  # not a report's: left alone
    aggregate(tmp_path)
    assert [n for n in _files(tmp_path) if n.count(".") > 1] == ["tables/notes.balanced_accuracy.csv"]


def test_runs_without_the_metric_stop_it_before_anything_is_written(write_class_runs, tmp_path, capsys):
    write_class_runs(tmp_path / "runs", old=(("random", 0), ("entropy", 1)))
    assert main([str(tmp_path), "--metric", "worst_class_recall"]) == 2
    assert capsys.readouterr().err == (
        "aggregate: --metric worst_class_recall: 2 of 6 finished run(s) have no worst_class_recall column in their "
        "curve.csv (written before it existed); nothing was written (rerun them, or aggregate them with "
        "--metric accuracy)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_an_unknown_metric_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path), "--metric", "f1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aggregate: --metric f1: not a metric aggregation knows; choose one of accuracy, ")
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_command_prints_the_metric_s_verdict_and_gains_and_draws_its_figures(write_class_runs, tmp_path, capsys):
    write_class_runs(tmp_path / "runs")
    assert main([str(tmp_path), "--metric", "balanced_accuracy"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"  figure: {tmp_path / 'figures' / 'learning_curves.balanced_accuracy.png'}"
    assert out[4].startswith("verdict on balanced accuracy (")
    assert "entropy beats random (the runner-up)" in out[6]
    assert out[8].split()[4] == "balanced_accuracy_mean"
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == sorted(f"{f}{m}.png" for f in ("gains", "learning_curves", "penalty_matrix")
                             for m in ("", ".balanced_accuracy"))
    for f in ("gains", "learning_curves", "penalty_matrix"):
        assert (tmp_path / "figures" / f"{f}.png").read_bytes() != (tmp_path / "figures" / f"{f}.balanced_accuracy.png"
                                                                    ).read_bytes()


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_several_metrics_at_once_keep_each_one_s_files(write_class_runs, tmp_path, tables_only):
    write_class_runs(tmp_path / "runs")
    both = aggregate(tmp_path, metric=["balanced_accuracy", "worst_class_recall"])  # as --metric A B passes them
    names = set(_files(tmp_path))
    for m in ("balanced_accuracy", "worst_class_recall"):
        assert f"tables/verdict.{m}.csv" in names and f"tables/budget_gains.{m}.csv" in names
    assert both.metric == "balanced_accuracy" and set(both.also) == {"worst_class_recall"}
    assert "  metric: balanced_accuracy, then worst_class_recall (" in both.summary()
    single = aggregate(tmp_path / "one", runs_dir=tmp_path / "runs", metric="worst_class_recall")
    assert (tmp_path / "one/tables/verdict.worst_class_recall.csv").read_bytes() == \
        (tmp_path / "tables/verdict.worst_class_recall.csv").read_bytes()
    assert single.also == {}
    aggregate(tmp_path)  # then accuracy alone: the others' files go, as for one metric
    assert not [n for n in _files(tmp_path) if n.count(".") > 1]
