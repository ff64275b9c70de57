"""tables/variants.csv: which settings each name@<id> variant has, read from the runs' config.yaml
and checked against their strategy_id."""

import pandas as pd
import yaml

from al_bench.report.reports.variants import COLUMNS, variants
from al_bench.report.runs import read_settings
from al_bench.runfiles import COMPARE_KEYS, strategy_id

G = {"dataset": "digits", "embedder": "pixels", "model": "linear", "schedule": "low", "comparison_id": "c0"}
NODES = {
    "plain": {"name": "margin", "random_fraction": 0.0, "class_balance": "none", "sampling": "topk", "beta": 1.0,
              "params": {}},
    "predicted": {"name": "margin", "random_fraction": 0.0, "class_balance": "predicted", "sampling": "topk",
                  "beta": 1.0, "params": {}},
    "softmax": {"name": "margin", "random_fraction": 0.0, "class_balance": "none", "sampling": "softmax",
                "beta": 20.0, "params": {}},
    "random": {"name": "random", "random_fraction": 0.0, "class_balance": "none", "sampling": "topk", "beta": 1.0,
               "params": {}},
}


def _runs(root):
    """Two seeds of each node as run folders with config.yaml, and the results frame aggregation
    builds from them (variants of margin named name@id, random alone keeps its name)."""
    rows = []
    for key, node in NODES.items():
        sid = strategy_id({"strategy": node})
        for seed in (0, 1):
            run = f"{key}/seed{seed}"
            (root / run).mkdir(parents=True)
            (root / run / "config.yaml").write_text(yaml.safe_dump({"strategy": node, "seed": seed}))
            name = node["name"] if key == "random" else f"margin@{sid[:6]}"
            rows.append({**G, "strategy": name, "strategy_id": sid, "seed": seed, "budget": 0.1, "run": run})
    return pd.DataFrame(rows)


def test_each_variant_is_named_by_the_settings_it_differs_in(tmp_path):
    results = _runs(tmp_path)
    settings, problems = read_settings(tmp_path, results)
    assert problems == [] and len(settings) == 8
    table = variants(results, settings)
    assert table.columns.tolist() == COLUMNS
    by = dict(zip(table["strategy"], table["differs"].fillna("")))
    sid = {k: strategy_id({"strategy": n})[:6] for k, n in NODES.items()}
    assert by == {"random": "", f"margin@{sid['plain']}": "class_balance=none, sampling=topk",
                  f"margin@{sid['predicted']}": "class_balance=predicted, sampling=topk",
                  f"margin@{sid['softmax']}": "beta=20, class_balance=none, sampling=softmax"}
    assert table["name"].tolist() == ["margin"] * 3 + ["random"] and table["n_runs"].tolist() == [2, 2, 2, 2]
    assert table[COMPARE_KEYS].drop_duplicates().to_dict("records") == [G]


def test_a_config_changed_since_the_run_is_not_believed(tmp_path):
    results = _runs(tmp_path)
    changed = dict(NODES["predicted"], class_balance="fallback")
    (tmp_path / "predicted/seed1/config.yaml").write_text(yaml.safe_dump({"strategy": changed}))
    (tmp_path / "softmax/seed0/config.yaml").unlink()
    settings, problems = read_settings(tmp_path, results)
    assert sorted(settings["run"]) == sorted(set(results["run"]) - {"predicted/seed1", "softmax/seed0"})
    assert problems == [
        f"predicted/seed1: config.yaml: its strategy settings are not those of the run (strategy_id "
        f"{strategy_id({'strategy': NODES['predicted']})})",
        "softmax/seed0: config.yaml: No such file or directory"]
    table = variants(results, settings)  # the other seed of each still says what the variant is
    assert "class_balance=predicted, sampling=topk" in table["differs"].tolist()
    assert "fallback" not in " ".join(table["differs"].fillna(""))


def test_a_strategy_with_one_variant_differs_in_nothing(tmp_path):
    results = _runs(tmp_path)
    results = results[results["strategy"] == "random"]
    table = variants(results, read_settings(tmp_path, results)[0])
    assert table[["strategy", "name", "n_runs"]].values.tolist() == [["random", "random", 2]]
    assert table["differs"].tolist() == [""]
