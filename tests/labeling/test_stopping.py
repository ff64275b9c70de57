"""When to stop: Cohen's kappa, the learning-curve fit and forecast, the suggestion's rules, and a
project's rounds carrying them."""

import numpy as np
import pytest
from labeling.colour_folder import CLASSES

from al_bench.labeling import LabelingProject
from al_bench.labeling.stopping import KAPPA, NEXT, cohen_kappa, fit_curve, forecast, suggestion


def test_cohen_kappa_hand_values():
    assert cohen_kappa([0, 1, 2, 1], [0, 1, 2, 1], 3) == 1.0
    # p_o = 3/4; p_e = (2*1 + 2*3) / 16 = 1/2
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 1, 1], 2) == pytest.approx(0.5)
    assert cohen_kappa([1, 1, 1], [1, 1, 1], 2) == 1.0  # one class only: agreement by construction


def test_a_noiseless_power_law_is_recovered():
    n = np.array([20, 40, 60, 100, 160, 240, 300], float)
    acc = 0.9 - 0.8 * n**-0.5
    a, b, c = fit_curve(n, acc, np.full(n.size, 0.02))
    assert (a, b, c) == pytest.approx((0.9, 0.8, 0.5), abs=1e-9)


def test_forecast_and_its_intervals():
    n = np.array([20, 40, 60, 80, 100], float)
    acc = 0.9 - 0.8 * n**-0.5
    fc = forecast(n, acc, np.full(n.size, 0.03), np.random.default_rng(0), target=0.85)
    want = (0.9 - 0.8 * 200**-0.5) - (0.9 - 0.8 * 100**-0.5)
    assert fc["next"] == NEXT and fc["next_gain"] == pytest.approx(want, abs=1e-9)
    lo, hi = fc["next_gain_ci"]
    assert lo <= fc["next_gain"] <= hi and hi - lo > 0
    assert fc["labels_to_target"] == pytest.approx((0.8 / 0.05) ** 2, rel=1e-9)  # 0.9 - 0.8 n^-0.5 = 0.85
    assert fc["curve"]["n"][0] == 100 and len(fc["curve"]["acc"]) == len(fc["curve"]["lo"]) == 9
    assert forecast(n[:2], acc[:2], np.full(2, 0.03), np.random.default_rng(0)) is None


def test_the_suggestion_names_every_rule_and_whether_it_is_met():
    flat = {"next": NEXT, "next_gain": 0.002, "next_gain_ci": [-0.01, 0.015], "last_se": 0.015, "rounds": 5}
    steep = {"next": NEXT, "next_gain": 0.05, "next_gain_ci": [0.02, 0.08], "last_se": 0.015, "rounds": 5}
    noisy = {**flat, "last_se": 0.09}  # a few audited images: "no gain" is not evidence of a plateau
    s = suggestion([None, 0.8, 0.995, 0.996, 0.999], steep)
    assert s["stop"] and len(s["rules"]) == 2 and s["rules"][0]["met"] and not s["rules"][1]["met"]
    assert s["because"] == [s["rules"][0]["rule"]] and str(KAPPA) in s["rules"][0]["rule"]
    s = suggestion([None, 0.9], flat)
    assert s["stop"] and "needs 3 rounds" in s["rules"][0]["rule"] and s["rules"][1]["met"]
    assert not suggestion([None, 0.95, 0.97, 0.98], None)["stop"]
    s = suggestion([None, 0.9], noisy)
    assert not s["stop"] and "not yet precise enough" in s["rules"][1]["rule"] and "9.0 points" in s["rules"][1]["rule"]


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_a_project_s_rounds_carry_kappa_and_give_a_forecast(tmp_path, folder):
    truth = folder[1]
    p = LabelingProject.open(tmp_path / "p")
    p.setup("colours", CLASSES, batch_size=10, embedder="pixels", audit_fraction=0.5)
    p.add_folder(folder[0])
    for _ in range(3):
        sel = p.next_batch()
        p.add_labels({k: truth[k] for k in sel.ids})
        p.fit()
    rounds = p.rounds()
    assert rounds[0]["kappa"] is None and all(-1 <= r["kappa"] <= 1 for r in rounds[1:])
    fc = p.forecast(target=0.9)
    assert fc is not None and fc["rounds"] == 3 and fc["n_last"] == 30
    s = p.stop_suggestion()
    assert [r["met"] for r in s["rules"]].count(True) == len(s["because"]) and "never" not in s["note"]
    with pytest.raises(Exception, match="between 0 and 1"):
        p.forecast(target=90)
