"""tables/head_agreement.csv and the verdict's sign_change_under on a hand-made table: a gain that
is significant under the run's head and reversed under another is flagged; agreeing signs, and a
reversal where neither interval excludes 0, are not."""

import pandas as pd

from al_bench.report.reports.head_agreement import COLUMNS, head_agreement
from al_bench.report.reports.verdict import verdict, verdict_summary

G = {"dataset": "d", "embedder": "e", "model": "m", "schedule": "s"}


def table():
    """random, a, b × 3 seeds at one point. Gains over random (run head / other head):
    a: +0.09/+0.10/+0.11 and −0.05/−0.06/−0.04 (both significant, opposite);
    b: +0.01/+0.02/+0.03 and +0.02/+0.01/+0.00 (same sign)."""
    rows = []
    base = [0.50, 0.60, 0.55]
    other_base = [0.40, 0.45, 0.42]
    gains = {"random": ([0, 0, 0], [0, 0, 0]), "a": ([0.09, 0.10, 0.11], [-0.05, -0.06, -0.04]),
             "b": ([0.01, 0.02, 0.03], [0.02, 0.01, 0.00])}
    for s, (g, h) in gains.items():
        for k in range(3):
            rows.append({**G, "strategy": s, "seed": k, "budget": 0.1, "n_labeled": 100,
                         "accuracy": base[k] + g[k], "accuracy@std": other_base[k] + h[k]})
    return pd.DataFrame(rows)


def test_sign_changes_are_flagged_per_strategy():
    raw = head_agreement(table())
    assert list(raw.columns) == COLUMNS and len(raw) == 2  # a and b; random is the reference
    t = raw.set_index("strategy")
    assert t.loc["a", "other_head"] == "std" and t.loc["a", "sign_change"] == "yes"
    assert abs(t.loc["a", "gain_mean"] - 0.10) < 1e-12 and abs(t.loc["a", "other_gain_mean"] + 0.05) < 1e-12
    assert t.loc["a", "gain_ci_low"] > 0 and t.loc["a", "other_gain_ci_high"] < 0
    assert t.loc["b", "sign_change"] == "no" and t.loc["a", "n_pairs"] == 3


def test_a_reversal_within_noise_is_not_a_sign_change():
    t = table()
    noisy = {0: -0.04, 1: 0.05, 2: -0.03}  # b's gain under the run head: mean −0.0067, interval spans 0
    sel = t["strategy"] == "b"
    t.loc[sel, "accuracy"] = t.loc[sel, "seed"].map(lambda k: [0.50, 0.60, 0.55][k] + noisy[k])
    t.loc[sel, "accuracy@std"] = t.loc[sel, "seed"].map(lambda k: [0.40, 0.45, 0.42][k] + [0.01, 0.03, -0.01][k])
    assert head_agreement(t).set_index("strategy").loc["b", "sign_change"] == "no"


def test_the_verdict_names_the_heads_its_sign_changes_under():
    v = verdict(table())
    assert v.loc[0, "best"] == "a" and v.loc[0, "sign_change_under"] == "std"
    assert "the gain's sign changes under std" in verdict_summary(v)
    plain = verdict(table().drop(columns=["accuracy@std"]))
    assert plain.loc[0, "sign_change_under"] == "" and "sign changes" not in verdict_summary(plain)
    assert head_agreement(table().drop(columns=["accuracy@std"])).empty
