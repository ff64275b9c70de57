"""al_bench.report (the package's __init__): aggregate and its report."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report import AggregateReport, aggregate, verdict_summary
from al_bench.runfiles import write_csv, write_status


@pytest.mark.slow
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


@pytest.mark.slow
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
    assert report.summary().splitlines()[:3] == [
        f"aggregate: 6 finished run(s) under {tmp_path}",
        f"  figure: {tmp_path / 'figures' / 'learning_curves.png'}",
        f"  tables: {tmp_path / 'tables'}",
    ]
    # then the verdict, one line per budget point (verdict_summary of the verdict table)
    assert report.summary().splitlines()[3:] == verdict_summary(report.tables["verdict"]).splitlines()
    assert len(report.summary().splitlines()) == 3 + 2 + 3


@pytest.mark.slow
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


# -- the statistics through aggregate(), from run files ------------------------------------------

T2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # Student t, 97.5 % quantile, 2 df (closed form)


@pytest.mark.slow
def test_statistics_from_run_files_by_hand(write_runs, tmp_path):
    """Run folders (curve.csv + status.json per strategy and seed) of a hand-made table: every new
    table and figure is written, and its numbers are the hand-computed ones."""
    rnd = {0.1: [0.50, 0.52, 0.48], 0.2: [0.70, 0.72, 0.68], 0.4: [0.79, 0.80, 0.795]}
    off = {"random": {b: [0.0] * 3 for b in rnd},
           "a": {0.1: [0.09, 0.10, 0.11], 0.2: [0.0, 0.0, 0.0], 0.4: [0.1, 0.1, 0.1]},
           "b": {0.1: [0.02, 0.04, 0.06], 0.2: [-0.09, -0.10, -0.11], 0.4: [-0.1, -0.1, -0.1]}}
    rows = [{"dataset": "d", "embedder": "e", "model": "m", "schedule": "s", "strategy": s, "seed": k,
             "budget": b, "n_labeled": n, "accuracy": rnd[b][k] + off[s][b][k], "full_pool_accuracy": 0.80}
            for s in off for (b, n) in ((0.1, 100), (0.2, 200), (0.4, 400)) for k in range(3)]
    write_runs(tmp_path / "runs", pd.DataFrame(rows))
    report = aggregate(tmp_path)
    assert report.problems == []
    for f in ("tables/aubc.csv", "tables/penalty_matrix.csv", "tables/verdict.csv", "figures/gains.png",
              "figures/penalty_matrix.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    gains = pd.read_csv(tmp_path / "tables" / "budget_gains.csv").set_index(["strategy", "budget"])
    a = gains.loc[("a", 0.1)]  # 0.09/0.10/0.11: t = 10√3 on 2 df
    assert a["p_value"] == pytest.approx(1 - 10 * math.sqrt(3) / math.sqrt(302), rel=1e-6)
    assert a["gain_ci_low"] == pytest.approx(0.1 - T2 * 0.01 / math.sqrt(3))
    # AUBC: x = 0, 1/3, 1 → area = a0/6 + a1/2 + a2/3; a − random = (0.09, 0.10, 0.11)/6 + 0.1/3:
    # mean 0.05, sd 0.01/6, t = 0.05 / (0.01/6/√3) = 30√3 on 2 df
    au = pd.read_csv(tmp_path / "tables" / "aubc.csv")
    s = au[(au.strategy == "a") & (au.level == "strategy")].iloc[0]
    assert s["gain_mean"] == pytest.approx(0.05) and s["gain_std"] == pytest.approx(0.01 / 6)
    assert s["p_value"] == pytest.approx(1 - 30 * math.sqrt(3) / math.sqrt(2700 + 2), rel=1e-6)
    r0 = au[(au.strategy == "random") & (au.level == "seed") & (au.seed == 0)].iloc[0]
    assert r0["aubc"] == pytest.approx(0.50 / 6 + 0.70 / 2 + 0.79 / 3)
    pen = pd.read_csv(tmp_path / "tables" / "penalty_matrix.csv").set_index("strategy")
    assert list(pen.index) == ["a", "random", "b"]
    assert (pen.loc["a", "random"], pen.loc["a", "b"], pen.loc["random", "b"]) == (0.5, 1.0, 0.5)
    v = pd.read_csv(tmp_path / "tables" / "verdict.csv").set_index("budget")
    assert v["verdict"].tolist() == ["a beats random and the runner-up b", "no significant difference",
                                     "a beats random (the runner-up)"]
    assert "10% (100 labels): a +10.00" in report.summary()


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Real runs, in process: digits, pixels, the smoke schedule, random and entropy × 3 seeds."""
    from al_bench.cli.run import settings_from
    from al_bench.run import run
    from al_bench.runfiles import run_dir_of
    from support import compose_config

    out = tmp_path_factory.mktemp("real")
    for strategy in ("random", "entropy"):
        for seed in range(3):
            cfg = compose_config("dataset=digits", "embedder=pixels", "budget=smoke", "model.steps=60",
                                 f"strategy={strategy}", f"seed={seed}", f"paths.outputs_dir={out}",
                                 f"paths.data_dir={out / 'data'}")
            s, plain = settings_from(cfg)
            run(s, out / "runs" / run_dir_of(cfg), plain)
    return out


@pytest.mark.slow  # six real runs: seconds alone, much longer on a shared machine
def test_statistics_from_real_runs_agree_with_an_independent_computation(real_runs):
    """aggregate() on real run files against scipy's paired t-test and numpy's trapezoid computed
    here straight from each run's curve.csv."""
    from scipy import stats

    report = aggregate(real_runs)
    assert report.problems == [] and len(report.status) == 6
    curves = pd.concat([pd.read_csv(p) for p in sorted((real_runs / "runs").rglob("curve.csv"))])
    acc = curves.pivot_table(index=["budget", "seed"], columns="strategy", values="accuracy")
    gains = report.gains.set_index(["strategy", "budget"])
    verdict = report.tables["verdict"].set_index("budget")
    for b, at in acc.groupby(level="budget"):
        e, r = at["entropy"].to_numpy(), at["random"].to_numpy()
        row = gains.loc[("entropy", b)]
        d = e - r
        assert row["n_pairs"] == 3 and row["gain_mean"] == pytest.approx(d.mean())
        if d.std() > 0:
            assert row["p_value"] == pytest.approx(stats.ttest_rel(e, r).pvalue, rel=1e-9)
            lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
            assert (row["gain_ci_low"], row["gain_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
        best = "entropy" if e.mean() > r.mean() else "random"
        assert verdict.loc[b, "best"] == best
    # AUBC per run: trapezoid over n_labeled rescaled to [0, 1]
    au = report.tables["aubc"]
    for (strategy, seed), c in curves.groupby(["strategy", "seed"]):
        c = c.sort_values("budget")
        x = (c["n_labeled"] - c["n_labeled"].min()) / (c["n_labeled"].max() - c["n_labeled"].min())
        row = au[(au.strategy == strategy) & (au.level == "seed") & (au.seed == seed)].iloc[0]
        assert row["aubc"] == pytest.approx(np.trapezoid(c["accuracy"], x))
    # penalty matrix: the points where random is below 99 % of its full-pool accuracy
    full = curves[curves.strategy == "random"].drop_duplicates("seed")["full_pool_accuracy"].mean()
    counted = [b for b, at in acc.groupby(level="budget") if at["random"].mean() < 0.99 * full]
    pen = report.tables["penalty_matrix"].set_index("strategy")
    assert pen["n_points"].iloc[0] == len(counted)
    expected = sum(stats.ttest_rel(acc.loc[b]["entropy"], acc.loc[b]["random"]).pvalue < 0.05
                   and acc.loc[b]["entropy"].mean() > acc.loc[b]["random"].mean() for b in counted)
    assert pen.loc["entropy", "random"] == pytest.approx(expected / len(counted))


@pytest.mark.slow
def test_new_tables_keep_groups_and_variants_apart(curve_results, tmp_path):
    """Two comparison groups, two variants of one strategy name (name@id) and a group without
    random: every new table reports them apart, and the group without random has NaN gains."""
    base = curve_results.drop(columns=["run"]).assign(comparison_id="c1", strategy_id="s-default")
    variant = base[base.strategy == "entropy"].assign(strategy_id="s-other", accuracy=lambda d: d.accuracy + 0.05)
    other_group = base.assign(comparison_id="c2", accuracy=lambda d: d.accuracy - 0.1)
    no_random = base[base.strategy == "entropy"].assign(comparison_id="c3")
    k = 0
    for frame in (base, variant, other_group, no_random):
        for _, rows in frame.groupby(["strategy", "seed"]):
            write_csv(rows, tmp_path / "runs" / f"r{k}" / "curve.csv")
            write_status(tmp_path / "runs" / f"r{k}", "ok")
            k += 1
    report = aggregate(tmp_path)
    assert report.problems == []
    variants = {"random", "entropy@s-defa", "entropy@s-othe"}
    for name in ("aubc", "penalty_matrix", "verdict"):
        t = report.tables[name]
        assert set(t["comparison_id"]) == {"c1", "c2", "c3"}, name
    au = report.tables["aubc"]
    assert set(au[au.comparison_id == "c1"]["strategy"]) == variants
    assert set(au[au.comparison_id == "c2"]["strategy"]) == {"random", "entropy"}
    c1 = au[(au.comparison_id == "c1") & (au.level == "strategy")].set_index("strategy")
    # the variant is the default + 0.05 at every point and seed: its AUBC gain is 0.05 more
    assert c1.loc["entropy@s-othe", "gain_mean"] - c1.loc["entropy@s-defa", "gain_mean"] == pytest.approx(0.05)
    c3 = au[(au.comparison_id == "c3") & (au.level == "strategy")].iloc[0]
    assert np.isnan(c3["gain_mean"]) and c3["n_pairs"] == 0
    pen = report.tables["penalty_matrix"]
    assert set(pen[pen.comparison_id == "c1"]["strategy"]) == variants
    assert pen[pen.comparison_id == "c2"]["entropy@s-othe"].isna().all()  # not in that group
    assert (pen[pen.comparison_id == "c3"]["rule"] == "every point (no random runs in this group)").all()
    v = report.tables["verdict"]
    assert set(v[v.comparison_id == "c1"]["best"]) == {"entropy@s-othe"}
    assert v[v.comparison_id == "c3"]["verdict"].str.startswith("only entropy ran").all()
    gains = report.gains
    assert gains[gains.comparison_id == "c3"]["p_value"].isna().all()


def test_an_aggregation_without_finished_runs_leaves_no_earlier_table_looking_current(tmp_path):
    from al_bench.report.reports import ordered, output_of

    earlier = ["tables/results.csv"] + [output_of(e, m) for e in ordered() for m in ("accuracy", "balanced_accuracy")]
    for name in set(earlier):  # what an earlier aggregation of runs since deleted or failed left
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("earlier\n")
    (tmp_path / "tables" / "my_notes.csv").write_text("mine\n")  # not a report's: left alone
    write_status(tmp_path / "runs" / "broken", "failed", error="boom")
    report = aggregate(tmp_path)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["runs/broken/status.json", "tables/my_notes.csv", "tables/run_status.csv"]
    assert len(report.removed) == len(set(earlier)) > 10
    assert (f"  removed {len(report.removed)} table(s)/figure(s) of an earlier aggregation (results.csv, "
            in report.summary())


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_report_failing_half_way_leaves_its_and_later_files_missing_not_stale(write_class_runs, tmp_path,
                                                                                tables_only, monkeypatch):
    from al_bench.report import REPORTS
    from al_bench.report.reports import ordered

    write_class_runs(tmp_path / "runs")
    aggregate(tmp_path)
    names = [e.output for e in ordered()]
    assert all((tmp_path / n).is_file() for n in names)
    failing = ordered()[len(names) // 2]

    def boom(*args, **kwargs):
        raise RuntimeError("disk trouble")

    monkeypatch.setitem(REPORTS._entries, failing.name, dataclasses.replace(failing, obj=boom))
    with pytest.raises(RuntimeError, match="disk trouble"):
        aggregate(tmp_path)
    at = names.index(failing.output)
    assert all((tmp_path / n).is_file() for n in names[:at])
    assert not any((tmp_path / n).exists() for n in names[at:])
