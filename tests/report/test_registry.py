"""Contract every registered report inherits: it runs on a small, complete results frame, writes
its declared output readably, leaves the frame alone, and aggregate is reproducible."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from al_bench.report import REPORTS, aggregate, register
from al_bench.report.metric import METRICS
from al_bench.report.reports import INPUTS, KINDS, ordered, run_report, takes

NAMES = sorted(REPORTS)
TABLES = [n for n in NAMES if REPORTS.entry(n).kind == "table"]


def test_the_reports_that_must_exist_are_registered():
    assert {"budget_gains", "labels_to_match", "learning_curves", "aubc", "gains", "penalty_matrix",
            "penalty_matrix_figure", "verdict"} <= set(NAMES)
    outputs = {REPORTS.entry(n).output for n in NAMES}
    assert {"tables/aubc.csv", "tables/penalty_matrix.csv", "figures/penalty_matrix.png", "figures/gains.png",
            "tables/verdict.csv"} <= outputs


@pytest.mark.parametrize("name", NAMES)
def test_declares_kind_output_and_order_and_is_named_like_its_module(name):
    e = REPORTS.entry(name)
    assert e.kind in KINDS and e.output.endswith(KINDS[e.kind])
    assert e.output.startswith("tables/" if e.kind == "table" else "figures/")
    assert isinstance(e.order, int)
    assert e.module == f"al_bench.report.reports.{name}"
    stem = e.output.rsplit("/", 1)[1].split(".")[0]
    if stem != name:  # one name: module, registry key, file — or the figure of a table of that name
        assert e.kind == "figure" and name == f"{stem}_figure" and REPORTS.entry(stem).kind == "table", name
    assert (e.obj.__doc__ or "").strip(), "its first docstring line is the --help line"


def test_outputs_and_orders_are_unique():
    entries = REPORTS.entries()
    assert len({e.output for e in entries}) == len(entries)
    assert len({e.order for e in entries}) == len(entries)


def _settings_of(results):
    """A settings input (as read_settings gives) for a results frame without run folders."""
    runs = sorted(results["run"].unique())
    return pd.DataFrame({"run": runs, "settings": [{"random_fraction": 0.0}] * len(runs)})


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
@pytest.mark.parametrize("name", NAMES)
def test_runs_and_writes_a_readable_output(name, curve_results, purchases_of, tmp_path):
    # with a re-scored head's column too (head_agreement reads it; the others must ignore it)
    results = curve_results.assign(**{"accuracy@other": 1.0 - curve_results["accuracy"]})
    before = results.copy()
    inputs = {"purchases": purchases_of(results),  # what aggregate reads from the run folders besides
              "settings": _settings_of(results)}
    path, table = run_report(REPORTS.entry(name), results, tmp_path, inputs)
    pd.testing.assert_frame_equal(results, before)  # a report does not touch the results
    assert path == tmp_path / REPORTS.entry(name).output
    assert path.is_file() and path.stat().st_size > 0
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temporary file left behind"
    if REPORTS.entry(name).kind == "table":
        read = pd.read_csv(path)
        assert len(read) > 0 and list(read.columns) == list(table.columns) and len(read) == len(table)
    else:
        assert table is None
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size[0] > 0 and im.size[1] > 0


@pytest.mark.parametrize("name", TABLES)
def test_a_table_does_not_depend_on_row_order(name, curve_results, purchases_of):
    e = REPORTS.entry(name)
    shuffled = curve_results.sample(frac=1, random_state=1)
    given = {"purchases": purchases_of(curve_results), "settings": _settings_of(curve_results)}
    given = {k: v for k, v in given.items() if takes(e, k)}
    pd.testing.assert_frame_equal(e.obj(curve_results, **given), e.obj(shuffled, **given))


def test_inputs_are_not_options():
    assert INPUTS == ("purchases", "settings")
    for e in REPORTS.entries():
        assert not set(INPUTS) & set(e.options), e.name


COMPARING = [n for n in NAMES if takes(REPORTS.entry(n), "metric")]


def test_every_report_that_compares_strategies_takes_the_metric():
    assert set(COMPARING) == {"budget_gains", "labels_to_match", "learning_curves", "aubc", "gains", "penalty_matrix",
                              "penalty_matrix_figure", "verdict", "stopping"}
    assert all(REPORTS.entry(n).options["metric"] == "accuracy" for n in COMPARING)


def _another_metric(name, curve_results, tmp_path):
    """Run ``name`` on balanced accuracy (a column unlike accuracy); its file is beside the declared one."""
    e = REPORTS.entry(name)
    results = curve_results.assign(balanced_accuracy=1.0 - curve_results["accuracy"])
    path, table = run_report(e, results, tmp_path, metric="balanced_accuracy")
    stem, suffix = e.output.rsplit(".", 1)
    assert path == tmp_path / f"{stem}.balanced_accuracy.{suffix}" and path.stat().st_size > 0
    assert not (tmp_path / e.output).exists()
    plain, _ = run_report(e, results, tmp_path)
    assert plain == tmp_path / e.output and plain.read_bytes() != path.read_bytes()
    return table


@pytest.mark.parametrize("name", [n for n in COMPARING if n in TABLES])
def test_a_table_on_another_metric_is_written_beside_and_says_its_metric(name, curve_results, tmp_path):
    table = _another_metric(name, curve_results, tmp_path)
    assert table.columns[-1] == "metric" and set(table["metric"]) == {"balanced_accuracy"}
    assert not [c for c in table.columns if "accuracy" in c and "balanced_accuracy" not in c], list(table.columns)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in COMPARING if n not in TABLES])
def test_a_figure_on_another_metric_is_drawn_beside(name, curve_results, tmp_path):
    _another_metric(name, curve_results, tmp_path)


def test_the_metrics_are_those_of_the_issue():
    assert METRICS == ("accuracy", "balanced_accuracy", "macro_f1", "worst_class_recall")


@pytest.mark.slow
def test_aggregate_twice_writes_identical_files(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "runs", curve_results)
    first = aggregate(tmp_path)
    figures = {e.name: (tmp_path / e.output).read_bytes() for e in REPORTS.entries() if e.kind == "figure"}
    tables = sorted((tmp_path / "tables").glob("*.csv"))
    written = {p.name: p.read_bytes() for p in tables}
    expected = {"results.csv", "run_status.csv"} | {e.output.split("/")[1] for e in REPORTS.entries() if e.kind == "table"}
    assert set(written) == expected
    second = aggregate(tmp_path)
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "tables").glob("*.csv"))} == written
    assert {e.name: (tmp_path / e.output).read_bytes() for e in REPORTS.entries() if e.kind == "figure"} == figures
    assert set(first.outputs) == set(second.outputs) == set(NAMES)
    for e in REPORTS.entries():
        assert first.outputs[e.name] == tmp_path / e.output and (tmp_path / e.output).stat().st_size > 0


def test_reports_run_in_declared_order():
    orders = [e.order for e in ordered()]
    assert orders == sorted(orders)
    assert [e.name for e in ordered()][:3] == ["budget_gains", "labels_to_match", "learning_curves"]


@pytest.mark.slow
def test_a_new_table_is_one_registration(monkeypatch, curve_results, write_runs, tmp_path):
    monkeypatch.setattr(REPORTS, "_entries", dict(REPORTS._entries))  # the registration ends with the test
    calls = []

    @register("seeds_per_strategy", kind="table", output="tables/seeds_per_strategy.csv", order=15)
    def seeds_per_strategy(results: pd.DataFrame) -> pd.DataFrame:
        """Seeds per strategy."""
        calls.append([e.name for e in ordered()])
        return results.groupby("strategy", as_index=False)["seed"].nunique()

    write_runs(tmp_path / "runs", curve_results)
    report = aggregate(tmp_path)
    assert pd.read_csv(tmp_path / "tables" / "seeds_per_strategy.csv").to_dict("list") == {
        "strategy": ["entropy", "random"], "seed": [3, 3]}
    assert report.tables["seeds_per_strategy"]["seed"].tolist() == [3, 3]
    assert calls[0].index("seeds_per_strategy") == calls[0].index("budget_gains") + 1


@pytest.mark.slow
def test_run_report_passes_only_the_options_a_report_declares(curve_results, tmp_path):
    lc = REPORTS.entry("learning_curves")
    assert dict(lc.options) == {"log_x": True, "metric": "accuracy"}
    log, lin = tmp_path / "log", tmp_path / "lin"
    run_report(lc, curve_results, log)  # default: log axis
    run_report(lc, curve_results, lin, log_x=False)
    run_report(REPORTS.entry("budget_gains"), curve_results, lin, log_x=False)  # not its option: ignored
    assert (log / lc.output).read_bytes() != (lin / lc.output).read_bytes()
    run_report(lc, curve_results, tmp_path / "again", log_x=True)
    assert (tmp_path / "again" / lc.output).read_bytes() == (log / lc.output).read_bytes()


def test_aggregate_refuses_an_option_no_report_has(curve_results, write_runs, tmp_path):
    write_runs(tmp_path / "runs", curve_results)
    with pytest.raises(TypeError, match="no report has the option.*log_y"):
        aggregate(tmp_path, log_y=True)


@pytest.mark.parametrize("kind, output", [("chart", "figures/x.png"), ("table", "tables/x.png"),
                                          ("figure", "figures/x.csv"), ("table", "/abs/x.csv")])
def test_register_refuses_a_bad_declaration(kind, output):
    with pytest.raises(TypeError, match="report 'x'"):
        register("x", kind=kind, output=output, order=99)
    assert "x" not in REPORTS


def test_register_requires_order():
    with pytest.raises(TypeError):
        register("x", kind="table", output="tables/x.csv")
