"""tables/stopping.csv on a hand-made results table: where each stabilizing-predictions rule
first holds, what it leaves against the full pool and against the schedule's end."""

import numpy as np
import pandas as pd
import pytest

from al_bench.report.reports.stopping import COLUMNS, stopping

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}
LABELS = [10, 20, 30, 40, 50, 60]


def run(strategy, seed, kappas, acc, full=0.9):
    return [{**G, "strategy": strategy, "seed": seed, "budget": n / 100, "n_labeled": n, "accuracy": a,
             "stop_kappa": k, "full_pool_accuracy": full} for n, k, a in zip(LABELS, kappas, acc)]


ACC = [0.5, 0.6, 0.7, 0.75, 0.8, 0.82]


@pytest.fixture
def table():
    nan = float("nan")
    r = run("margin", 0, [nan, 0.9, 0.996, 0.99, 0.985, 0.999], ACC)   # mean of 3 reaches 0.99 at 50 labels
    r += run("margin", 1, [nan, 0.991, 0.991, 0.991, 0.991, 0.991], ACC)  # both rules at the fourth point (40)
    r += run("random", 0, [nan, 0.5, 0.6, 0.7, 0.8, 0.9], ACC)         # never: stops at the end, stopped False
    return pd.DataFrame(r)


def _row(t, strategy, rule, level, seed=None):
    sel = (t.strategy == strategy) & (t.rule == rule) & (t.level == level)
    if seed is not None:
        sel &= t.seed == seed
    return t[sel].iloc[0]


def test_the_first_point_where_each_rule_holds(table):
    t = stopping(table)
    assert list(t.columns) == COLUMNS
    m0 = _row(t, "margin", "kappa_mean", "seed", 0)
    # kappas seen: -, .9, .996, .99 → mean .962 < .99 at 40; (.996 + .99 + .985) / 3 = .9903 at 50
    assert (m0.stopped, m0.n_labeled, m0.value) == (True, 50, 0.8)
    assert m0.gap == pytest.approx(0.1) and m0.lost == pytest.approx(0.02) and m0.end_labels == 60
    # every one of the last 3 >= .99: .985 breaks it at 50; (.99, .985, .999) no; never
    a0 = _row(t, "margin", "kappa_all", "seed", 0)
    assert (a0.stopped, a0.n_labeled) == (False, 60) and a0.lost == 0.0
    m1 = _row(t, "margin", "kappa_all", "seed", 1)
    assert (m1.stopped, m1.n_labeled, m1.value) == (True, 40, 0.75)
    r0 = _row(t, "random", "kappa_mean", "seed", 0)
    assert (r0.stopped, r0.n_labeled) == (False, 60)


def test_the_strategy_rows_summarize_the_seeds(table):
    t = stopping(table)
    s = _row(t, "margin", "kappa_mean", "strategy")
    assert (s.n_seeds, s.n_stopped, s.n_labeled_mean) == (2, 2, 45.0)  # 50 and 40
    assert s.gap_mean == pytest.approx(np.mean([0.9 - 0.8, 0.9 - 0.75]))
    assert s.gap_ci_low < s.gap_mean < s.gap_ci_high
    assert s.lost_mean == pytest.approx(np.mean([0.02, 0.07]))
    one = _row(t, "random", "kappa_mean", "strategy")
    assert one.n_seeds == 1 and np.isnan(one.gap_ci_low)  # one seed: no interval


def test_results_without_stop_kappa_give_an_empty_table(table):
    t = stopping(table.drop(columns="stop_kappa"))
    assert t.empty and list(t.columns) == COLUMNS
