"""tables/verdict.csv and its printed summary on hand-made tables: the best strategy, its gain
with the hand-computed interval and p-value, and every kind of verdict."""

import math

import numpy as np
import pandas as pd
import pytest

from al_bench.report.reports.verdict import COLUMNS, verdict, verdict_summary

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}
RANDOM = {0.1: [0.50, 0.52, 0.48], 0.2: [0.70, 0.72, 0.68], 0.4: [0.79, 0.80, 0.795]}
T2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # Student t, 97.5 % quantile, 2 df (closed form)


def p_df2(t):
    return 1 - abs(t) / math.sqrt(t * t + 2)  # two-sided p on 2 df


def table(offsets, seeds=(0, 1, 2), group=G):
    """``offsets``: strategy → budget → per-seed offset from random (random itself is added)."""
    rows = []
    for s, by_point in {"random": {b: [0.0] * 3 for b in RANDOM}, **offsets}.items():
        for b, off in by_point.items():
            for k in seeds:
                rows.append({**group, "strategy": s, "seed": k, "budget": b, "n_labeled": int(b * 1000),
                             "accuracy": RANDOM[b][k] + off[k]})
    return pd.DataFrame(rows)


MAIN = {"a": {0.1: [0.09, 0.10, 0.11], 0.2: [0.0, 0.0, 0.0], 0.4: [0.1, 0.1, 0.1]},
        "b": {0.1: [0.02, 0.04, 0.06], 0.2: [-0.09, -0.10, -0.11], 0.4: [-0.1, -0.1, -0.1]}}


def test_best_gain_interval_and_verdicts_by_hand():
    v = verdict(table(MAIN)).set_index("budget")
    assert list(v.columns) == [c for c in COLUMNS if c != "budget"]
    # 0.1: a (mean 0.60) > b (0.54) > random (0.50); a−random 0.09/0.10/0.11 → t = 10√3;
    # a−b 0.07/0.06/0.05 → t = 6√3: both significant
    r = v.loc[0.1]
    assert (r["best"], r["runner_up"], r["n_labeled"]) == ("a", "b", 100)
    assert r["best_accuracy"] == pytest.approx(0.60) and r["runner_up_accuracy"] == pytest.approx(0.54)
    assert r["gain_mean"] == pytest.approx(0.10)
    assert r["gain_ci_low"] == pytest.approx(0.10 - T2 * 0.01 / math.sqrt(3))
    assert r["gain_ci_high"] == pytest.approx(0.10 + T2 * 0.01 / math.sqrt(3))
    assert r["p_value"] == pytest.approx(p_df2(10 * math.sqrt(3)), rel=1e-6)
    assert r["margin_mean"] == pytest.approx(0.06)
    assert r["margin_p_value"] == pytest.approx(p_df2(6 * math.sqrt(3)), rel=1e-6)
    assert (r["beats_random"], r["beats_runner_up"]) == ("yes", "yes")
    assert r["verdict"] == "a beats random and the runner-up b"
    assert r["all_beating_random"] == "a"  # b's +0.04 has p = 0.074
    # 0.2: a equals random at every seed: a tie, broken by name; every difference 0 → p = 1
    r = v.loc[0.2]
    assert (r["best"], r["runner_up"], r["tied_with"]) == ("a", "random", "random")
    assert (r["gain_mean"], r["gain_ci_low"], r["gain_ci_high"], r["p_value"]) == (0, 0, 0, 1)
    assert r["beats_random"] == "no" and r["verdict"] == "no significant difference"
    # 0.4: a is random + 0.1 at every seed: zero spread → [0.1, 0.1], p = 0; the runner-up is random
    r = v.loc[0.4]
    assert (r["best"], r["runner_up"], r["p_value"]) == ("a", "random", 0.0)
    assert r["gain_ci_low"] == pytest.approx(0.1) == r["gain_ci_high"]
    assert r["verdict"] == "a beats random (the runner-up)"


def test_beats_random_but_not_the_runner_up():
    # c − a = +0.01, −0.01, +0.005 (t = 0.29 on 2 df); c − random = 0.10, 0.09, 0.115
    t = table({"a": {0.1: [0.09, 0.10, 0.11]}, "c": {0.1: [0.10, 0.09, 0.115]}})
    r = verdict(t).iloc[0]
    assert (r["best"], r["runner_up"], r["beats_random"], r["beats_runner_up"]) == ("c", "a", "yes", "no")
    d = np.array([0.01, -0.01, 0.005])
    assert r["margin_p_value"] == pytest.approx(p_df2(d.mean() / (d.std(ddof=1) / math.sqrt(3))), rel=1e-6)
    assert r["verdict"] == "c beats random; not separable from a"
    assert r["all_beating_random"] == "c;a"


def test_random_best():
    sig = verdict(table({"b": {0.1: [-0.09, -0.10, -0.11]}})).iloc[0]
    assert (sig["best"], sig["verdict"]) == ("random", "random best: significantly above b")
    assert sig["beats_random"] == "no" and sig["p_value"] == 1.0  # random against itself
    not_sig = verdict(table({"b": {0.1: [-0.02, -0.04, -0.06]}})).iloc[0]
    assert (not_sig["best"], not_sig["verdict"]) == ("random", "no significant difference")


def test_a_significant_strategy_that_is_not_the_best_is_named():
    # x: +0.3, −0.1, +0.1 (mean 0.1, not significant); y: +0.04, +0.05, +0.06 (mean 0.05, p = 0.013)
    r = verdict(table({"x": {0.1: [0.3, -0.1, 0.1]}, "y": {0.1: [0.04, 0.05, 0.06]}})).iloc[0]
    assert (r["best"], r["beats_random"], r["all_beating_random"]) == ("x", "no", "y")
    assert r["verdict"] == "no significant difference for the best (x); beats random: y"


def test_one_seed_is_untested():
    r = verdict(table(MAIN, seeds=(0,))).set_index("budget").loc[0.1]
    assert (r["best"], r["n_pairs"], r["beats_random"], r["beats_runner_up"]) == ("a", 1, "untested", "untested")
    assert r["gain_mean"] == pytest.approx(0.09)  # the one difference
    assert np.isnan(r["gain_ci_low"]) and np.isnan(r["p_value"]) and np.isnan(r["margin_p_value"])
    assert r["verdict"] == "untested: fewer than 2 paired seeds"


def test_a_strategy_missing_a_budget_point():
    t = table(MAIN)
    v = verdict(t[~((t.strategy == "b") & (t.budget == 0.1))]).set_index("budget")
    assert v.loc[0.1, "runner_up"] == "random" and v.loc[0.1, "verdict"] == "a beats random (the runner-up)"
    assert v.loc[0.2, "runner_up"] == "random"  # b still ran there (and is last)


def test_a_group_without_random_and_a_lone_strategy():
    other = {**G, "model": "other"}
    t = table(MAIN)
    lone = t[(t.strategy == "a") & (t.budget == 0.1)].assign(model="lone")
    v = verdict(pd.concat([t.assign(model="other")[t.strategy != "random"], lone]))
    o = v[v.model == "other"].set_index("budget")
    assert np.isnan(o.loc[0.1, "gain_mean"]) and o.loc[0.1, "n_pairs"] == 0
    assert o.loc[0.1, "beats_random"] == "untested"
    assert o.loc[0.1, "verdict"] == "no random runs: a beats the runner-up b"
    only = v[v.model == "lone"].iloc[0]
    assert only["verdict"] == "only a ran at this point" and only["runner_up"] == ""
    assert other["model"] in set(v["model"])


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_summary_lines():
    text = verdict_summary(verdict(table(MAIN)))
    lines = text.splitlines()
    assert lines[0] == "verdict (seed-paired t-test, p < 0.05; gain over random in accuracy points, 95 % CI):"
    assert lines[1] == "  d · e · m · s"
    lo, hi = 100 * (0.10 - T2 * 0.01 / math.sqrt(3)), 100 * (0.10 + T2 * 0.01 / math.sqrt(3))
    p = p_df2(10 * math.sqrt(3))
    assert lines[2] == (f"    10% (100 labels): a +10.00 [+{lo:.2f}, +{hi:.2f}] p={p:.3g} (n=3)  "
                        "a beats random and the runner-up b")
    assert lines[4].startswith("    40% (400 labels): a +10.00 [+10.00, +10.00] p=0 (n=3)")
    assert len(lines) == 5
    assert verdict_summary(pd.DataFrame()) == ""
    one = verdict_summary(verdict(table(MAIN, seeds=(0,)))).splitlines()[2]
    assert one == "    10% (100 labels): a +9.00 [n/a] p=n/a (n=1)  untested: fewer than 2 paired seeds"


def test_a_point_where_every_strategy_is_tied_says_so():
    """The low schedule's first point is the shared initial set: every strategy has the same accuracy."""
    t = table({"a": {0.1: [0.0, 0.0, 0.0]}, "b": {0.1: [0.0, 0.0, 0.0]}})
    r = verdict(t[t.budget == 0.1]).iloc[0]
    assert (r["best"], r["tied_with"]) == ("a", "b;random")
    assert r["verdict"] == "all 3 strategies tied (the same mean accuracy; e.g. the same labeled set)"
    assert r["beats_random"] == "no" and r["p_value"] == 1
