"""Re-scoring real runs with other heads (python -m al_bench.report OUTPUTS --heads ...): with the
run's own model config it reproduces the run's accuracy exactly; scores are reused only for the
same selected.csv, head and code; an unknown head fails before anything is written."""

import pandas as pd
import pytest

from al_bench.report import aggregate
from al_bench.report import rescore as rs
from al_bench.report.cli import main as report_main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Real runs, in process: digits, pixels, smoke schedule, default head; random and margin × 2 seeds."""
    from al_bench.cli.run import settings_from
    from al_bench.run import run
    from al_bench.runfiles import run_dir_of
    from support import compose_config

    out = tmp_path_factory.mktemp("rescore")
    for strategy in ("random", "margin"):
        for seed in range(2):
            cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", f"strategy={strategy}",
                                 f"seed={seed}", f"paths.outputs_dir={out}", f"paths.data_dir={out / 'data'}")
            s, plain = settings_from(cfg)
            run(s, out / "runs" / run_dir_of(cfg), plain)
    return out


def _restamp(run_dir):
    """The run's status.json with the sha256 of its files as they are now: the deliberate edits
    below stand for a run that wrote these files (an edit alone makes the run damaged)."""
    import json

    from al_bench.runfiles import STATUS, file_checksums

    status = json.loads((run_dir / STATUS).read_text())
    (run_dir / STATUS).write_text(json.dumps({**status, "sha256": file_checksums(run_dir)}))


@pytest.mark.slow  # four real runs and their re-fits
def test_the_runs_own_head_reproduces_its_accuracy_and_another_head_differs(runs, monkeypatch):
    report = aggregate(runs, heads=("linear", "linear_std"))
    res = report.results
    assert len(res) == 4 * 3 and res["accuracy@linear"].notna().all()
    # the same head, labeled set and seed: the same model (the fit does not depend on row order)
    assert (res["accuracy@linear"] == res["accuracy"]).all()
    assert (res["accuracy@linear_std"] != res["accuracy"]).any()
    written = pd.read_csv(runs / "tables" / "results.csv")
    assert {"accuracy@linear", "accuracy@linear_std"} <= set(written.columns)
    agree = pd.read_csv(runs / "tables" / "head_agreement.csv")
    assert set(agree["other_head"]) == {"linear", "linear_std"} and set(agree["strategy"]) == {"margin"}
    assert (agree.loc[agree.other_head == "linear", "sign_change"] == "no").all()

    # kept scores are reused: nothing is fitted again ...
    calls = []
    real_score = rs._score
    monkeypatch.setattr(rs, "_score", lambda *a: calls.append(a[0]) or real_score(*a))
    again = aggregate(runs, heads=("linear_std",))
    assert calls == [] and (again.results["accuracy@linear_std"] == res["accuracy@linear_std"]).all()
    # ... until a run's purchases change: that run alone is scored again
    run = sorted((runs / "runs").rglob("selected.csv"))[0]
    sel = pd.read_csv(run)
    sel.iloc[-1], sel.iloc[-2] = sel.iloc[-2].copy(), sel.iloc[-1].copy()
    sel.to_csv(run, index=False)
    _restamp(run.parent)
    aggregate(runs, heads=("linear_std",))
    assert calls == [run.parent]


@pytest.mark.slow
def test_an_unknown_head_fails_before_anything_is_written(runs, capsys):
    tables = runs / "tables"
    before = {p: p.stat().st_mtime_ns for p in tables.rglob("*")} if tables.exists() else {}
    assert report_main([str(runs), "--heads", "nosuch"]) == 2
    assert "no model config 'nosuch'" in capsys.readouterr().err
    after = {p: p.stat().st_mtime_ns for p in tables.rglob("*")} if tables.exists() else {}
    assert after == before


@pytest.mark.slow
def test_a_run_without_its_config_is_left_unscored_and_named(runs):
    import shutil

    shutil.rmtree(runs / "rescored", ignore_errors=True)  # kept scores would serve without the config
    run = sorted((runs / "runs").rglob("config.yaml"))[0].parent
    saved, status = (run / "config.yaml").read_text(), (run / "status.json").read_text()
    (run / "config.yaml").unlink()
    _restamp(run)
    try:
        report = aggregate(runs, heads=("linear_std",))
    finally:
        (run / "config.yaml").write_text(saved)
        (run / "status.json").write_text(status)
    rel = run.relative_to(runs / "runs").as_posix()
    assert [p for p in report.problems if "not re-scored" in p] == [
        f"{rel}: no readable config.yaml, so it was not re-scored with linear_std"]
    res = report.results
    assert res.loc[res.run == rel, "accuracy@linear_std"].isna().all()
    assert res.loc[res.run != rel, "accuracy@linear_std"].notna().all()


@pytest.mark.slow
def test_a_run_whose_data_rebuilds_differently_is_not_scored(runs):
    """config.yaml read here names other data than the run used (its split no longer matches the
    split_hash in curve.csv): no score from other items is mixed into the results."""
    import shutil

    import yaml

    shutil.rmtree(runs / "rescored", ignore_errors=True)
    cfg_path = sorted((runs / "runs").rglob("config.yaml"))[0]
    saved, status = cfg_path.read_text(), (cfg_path.parent / "status.json").read_text()
    cfg = yaml.safe_load(saved)
    cfg["dataset"]["test_fraction"] = 0.3  # another split than the run's
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    _restamp(cfg_path.parent)
    try:
        report = aggregate(runs, heads=("linear_std",))
    finally:
        cfg_path.write_text(saved)
        (cfg_path.parent / "status.json").write_text(status)
    rel = cfg_path.parent.relative_to(runs / "runs").as_posix()
    problems = [p for p in report.problems if "not re-scored" in p]
    assert len(problems) == 1 and problems[0].startswith(f"{rel}: the split and embedding rebuilt")
    res = report.results
    assert res.loc[res.run == rel, "accuracy@linear_std"].isna().all()
    assert res.loc[res.run != rel, "accuracy@linear_std"].notna().all()
