"""Issue 26's ``auto`` study tables, from aggregated sweep folders that hold ``auto`` beside the
fixed strategies (``python -m al_bench.report OUT`` written, run folders kept).

    .venv/bin/python bench/auto_tables.py ROOT SLICE [SLICE ...]                 # Markdown
    .venv/bin/python bench/auto_tables.py ROOT SLICE ... --csv OUT --metric accuracy

Per slice (``ROOT/<slice>``):

1. ``regret``: at each budget point, the best fixed strategy in hindsight (the highest mean of the
   metric over the seeds among every strategy but ``auto``, variants included) and best − auto,
   seed-paired [95 % CI] with its p-value (the report's paired t-test); ``beaten`` when p < 0.05
   and the best is higher. ``tcm − auto`` beside it. Choosing the best after seeing the results
   favours it: the regret is an upper estimate.
2. ``penalty``: the penalty matrix's column sums (how often each strategy is significantly beaten,
   ``tables/penalty_matrix[.<metric>].csv``): auto's, its rank, the lowest and who has it, tcm's.
3. ``candidates``: from every auto run's ``decisions.csv``, per labels-per-class range, the share
   of rounds that ``margin`` (the high candidate) picked, the share the removal test decided (the
   rest: the labels-per-class rule), and the share where a "low" test was overruled past the
   rule's switch.

Reads files only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from al_bench.report.stats import paired_t

BINS = [0, 2, 5, 10, 20, 50, 100, np.inf]  # labels per class
BIN_NAMES = ["<2", "2-5", "5-10", "10-20", "20-50", "50-100", ">=100"]


def _pp(v: float) -> str:
    return f"{100 * v:+.1f}" if np.isfinite(v) else "n/a"


def _results(out: Path) -> pd.DataFrame:
    res = pd.read_csv(out / "tables" / "results.csv")
    if "auto" not in set(res["strategy"]):
        raise SystemExit(f"{out}: no auto runs in tables/results.csv (aggregate after the auto sweep)")
    return res


def regret(out: Path, metric: str) -> pd.DataFrame:
    res = _results(out)
    rows = []
    for (budget, n_labeled), at in res.groupby(["budget", "n_labeled"]):
        means = at.groupby("strategy")[metric].mean()
        fixed = means.drop("auto")
        best = str(fixed.idxmax())
        t = paired_t(_diff(at, best, "auto", metric))
        tcm = paired_t(_diff(at, "tcm", "auto", metric)) if "tcm" in means.index else None
        rows.append({"budget": budget, "n_labeled": int(n_labeled), "auto": means["auto"], "best_fixed": best,
                     "best": fixed.max(), "regret": t.mean, "regret_ci_low": t.ci_low, "regret_ci_high": t.ci_high,
                     "p_value": t.p_value, "n_pairs": t.n, "beaten": t.beats(),
                     "tcm_minus_auto": tcm.mean if tcm else np.nan, "tcm_p_value": tcm.p_value if tcm else np.nan})
    return pd.DataFrame(rows).sort_values("n_labeled")


def _diff(at: pd.DataFrame, a: str, b: str, metric: str) -> np.ndarray:
    va = at.loc[at["strategy"] == a].set_index("seed")[metric]
    vb = at.loc[at["strategy"] == b].set_index("seed")[metric]
    both = va.index.intersection(vb.index).sort_values()
    return (va.loc[both] - vb.loc[both]).to_numpy(np.float64)


def penalty(out: Path, metric: str) -> pd.DataFrame:
    name = "penalty_matrix.csv" if metric == "accuracy" else f"penalty_matrix.{metric}.csv"
    pm = pd.read_csv(out / "tables" / name)
    beaten = pm.set_index("strategy")["beaten"].sort_values(kind="stable")
    rank = int((beaten < beaten["auto"] - 1e-12).sum()) + 1
    lowest = beaten.min()
    return pd.DataFrame([{"auto_beaten": beaten["auto"], "auto_rank": rank, "strategies": len(beaten),
                          "lowest": lowest, "lowest_by": ", ".join(beaten.index[np.isclose(beaten, lowest)]),
                          "tcm_beaten": beaten.get("tcm", np.nan), "points": int(pm["n_points"].iloc[0])}])


def candidates(out: Path) -> pd.DataFrame:
    files = sorted(out.glob("runs/**/auto/*/decisions.csv"))
    if not files:
        raise SystemExit(f"{out}: no auto run folder with decisions.csv")
    res = _results(out)
    n_classes = sum(1 for c in res.columns if c.startswith("labeled_"))
    d = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    d["per_class"] = pd.cut(d["n_labeled"] / n_classes, BINS, right=False, labels=BIN_NAMES)
    d["high"] = d["candidate"] == "margin"
    test = d["reason"].str.startswith("removal test")
    d["overruled"] = test & d["reason"].str.contains("does not go back")  # a "low" test past the switch
    d["by_test"] = test & ~d["reason"].str.contains("not clear") & ~d["overruled"]
    g = d.groupby("per_class", observed=True)
    return pd.DataFrame({"rounds": g.size(), "margin_share": g["high"].mean(), "test_decided": g["by_test"].mean(),
                         "test_overruled": g["overruled"].mean(), "runs": len(files)}).reset_index()


def render(name: str, reg: pd.DataFrame, pen: pd.DataFrame, cand: pd.DataFrame, metric: str) -> str:
    lines = [f"### {name} ({metric})", "",
             "| labels | auto | best fixed | best − auto [95 % CI] | p | beaten | tcm − auto |", "|---|---|---|---|---|---|---|"]
    for r in reg.itertuples():
        ci = f"{_pp(r.regret)} [{_pp(r.regret_ci_low)}, {_pp(r.regret_ci_high)}]"
        lines.append(f"| {r.n_labeled} | {100 * r.auto:.1f} | {r.best_fixed} {100 * r.best:.1f} | {ci} | "
                     f"{r.p_value:.3f} | {'**yes**' if r.beaten else 'no'} | {_pp(r.tcm_minus_auto)} |")
    p = pen.iloc[0]
    lines += ["", f"Penalty column sum (times beaten, over {p.points} counted points): auto {p.auto_beaten:.2f} "
              f"(rank {p.auto_rank} of {p.strategies}); lowest {p.lowest:.2f} ({p.lowest_by}); tcm {p.tcm_beaten:.2f}.",
              "", "| labels per class | rounds | margin picked | decided by the test | a 'low' test overruled |",
              "|---|---|---|---|---|"]
    for r in cand.itertuples():
        lines.append(f"| {r.per_class} | {r.rounds} | {100 * r.margin_share:.0f} % | {100 * r.test_decided:.0f} % | "
                     f"{100 * r.test_overruled:.0f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("slices", nargs="+")
    ap.add_argument("--metric", default="accuracy")
    ap.add_argument("--csv", type=Path, help="also write regret.csv, penalty.csv and candidates.csv here")
    a = ap.parse_args(argv)
    tables: dict[str, list[pd.DataFrame]] = {"regret": [], "penalty": [], "candidates": []}
    for name in a.slices:
        out = a.root / name
        reg, pen, cand = regret(out, a.metric), penalty(out, a.metric), candidates(out)
        print(render(name, reg, pen, cand, a.metric))
        for key, df in (("regret", reg), ("penalty", pen), ("candidates", cand)):
            tables[key].append(df.assign(slice=name, metric=a.metric))
    if a.csv:
        a.csv.mkdir(parents=True, exist_ok=True)
        suffix = "" if a.metric == "accuracy" else f".{a.metric}"
        for key, parts in tables.items():
            df = pd.concat(parts, ignore_index=True)
            df[["slice", "metric"] + [c for c in df.columns if c not in ("slice", "metric")]].to_csv(
                a.csv / f"{key}{suffix}.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
