"""Issue 27's study tables: EPIG, BAIT and BatchBALD beside BALD and BADGE in slices that
``python -m al_bench.report`` has aggregated (every strategy of the slice in one comparison).

Per slice and strategy (the five named, where the slice has them):

- ``gains.csv``: the gain over random (points) at every budget point with its 95 % interval and p
  (``tables/budget_gains.csv``);
- ``summary.csv``: AUBC and its gain over random with interval and p (``tables/aubc.csv``), and
  the penalty matrix's column sum (how often the strategy is significantly beaten, summed over
  the others; ``tables/penalty_matrix.csv``) with its rank among all the slice's strategies
  (1 = beaten least).

    .venv/bin/python bench/acquisition_tables.py ROOT SLICE... [--csv DIR]

``ROOT/SLICE/tables`` holds each slice's report; ``--csv DIR`` writes ``DIR/gains.csv``,
``DIR/summary.csv`` and ``DIR/tables.md`` (the Markdown printed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SHOWN = ("bald", "badge", "epig", "bait", "batchbald")


def _pp(v: float) -> str:
    return f"{100 * v:+.1f}"


def slice_tables(root: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    tables = root / name / "tables"
    gains = pd.read_csv(tables / "budget_gains.csv")
    gains = gains[gains["strategy"].isin(SHOWN)].assign(slice=name)
    aubc = pd.read_csv(tables / "aubc.csv")
    aubc = aubc[aubc["level"] == "strategy"]
    pen = pd.read_csv(tables / "penalty_matrix.csv")
    names = list(pen["strategy"])
    column_sum = pen.set_index("strategy")["beaten"]  # the report's column sum: how often each is beaten
    rank = column_sum.rank(method="min").astype(int)
    rows = []
    for s in SHOWN:
        if s not in names:
            continue
        a = aubc[aubc["strategy"] == s].iloc[0]
        rows.append({"slice": name, "strategy": s, "aubc": a["aubc_mean"], "aubc_gain": a["gain_mean"],
                     "aubc_gain_ci_low": a["gain_ci_low"], "aubc_gain_ci_high": a["gain_ci_high"],
                     "aubc_p": a["p_value"], "penalty_column_sum": float(column_sum[s]), "penalty_rank": int(rank[s]),
                     "n_strategies": len(names)})
    return gains, pd.DataFrame(rows)


def markdown(gains: pd.DataFrame, summary: pd.DataFrame) -> str:
    out = ["| slice | strategy | gain over random at each budget point (points; * p < 0.05) | AUBC gain [95 % CI] | "
           "penalty column sum (rank) |", "|---|---|---|---|---|"]
    for (sl, s), g in gains.groupby(["slice", "strategy"], sort=False):
        g = g.sort_values("n_labeled")
        pts = " ".join(f"{int(r.n_labeled)}: {_pp(r.gain_mean)}{'*' if r.p_value < 0.05 else ''}" for r in g.itertuples())
        row = summary[(summary["slice"] == sl) & (summary["strategy"] == s)].iloc[0]
        out.append(f"| {sl} | {s} | {pts} | {_pp(row.aubc_gain)} [{_pp(row.aubc_gain_ci_low)}, "
                   f"{_pp(row.aubc_gain_ci_high)}] | {row.penalty_column_sum:.2f} ({row.penalty_rank} of {row.n_strategies}) |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("slices", nargs="+")
    ap.add_argument("--csv", type=Path, default=None)
    a = ap.parse_args(argv)
    parts = [slice_tables(a.root, s) for s in a.slices]
    gains = pd.concat([p[0] for p in parts], ignore_index=True)
    summary = pd.concat([p[1] for p in parts], ignore_index=True)
    text = markdown(gains, summary)
    print(text)
    if a.csv:
        a.csv.mkdir(parents=True, exist_ok=True)
        cols = ["slice", "strategy", "n_labeled", "budget", "accuracy_mean", "gain_mean", "gain_ci_low", "gain_ci_high",
                "p_value", "n_pairs"]
        gains[cols].to_csv(a.csv / "gains.csv", index=False)
        summary.to_csv(a.csv / "summary.csv", index=False)
        (a.csv / "tables.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
