"""The tables of a study, in Markdown, from the outputs folders of its sweeps (after
aggregation; ``python -m al_bench.report OUT --heads linear_std`` first for the second head).

    .venv/bin/python bench/study.py OUT [OUT ...]                  # per folder: gains, verdict, penalty, AUBC
    .venv/bin/python bench/study.py --cross BASE:OTHER             # OTHER's strategies over BASE's random
    .venv/bin/python bench/study.py --raw CAL:RAW                  # the same strategies, two head settings

Per folder and comparison group: the gain over random at every budget point with its 95 %
interval (``tables/budget_gains.csv``), the verdict per point (``tables/verdict.csv``), how often
each strategy is beaten and beats the others (``tables/penalty_matrix.csv``), the AUBC gain
(``tables/aubc.csv``) and, when re-scored, where a gain's sign changes under the second head
(``tables/head_agreement.csv``). ``--cross`` pairs by seed and number of labels the strategies of
one folder (e.g. a TypiClust initial set) with random of another (a uniform initial set): the
split is the seed's in both, so the difference is paired. ``--raw`` puts each strategy's gain of
two folders side by side (e.g. acquisition on temperature-scaled against raw probabilities).
Reads files only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from al_bench.report.stats import paired_t


def _pp(v: float) -> str:
    return f"{100 * v:+.1f}" if np.isfinite(v) else "n/a"


def _ci(mean: float, lo: float, hi: float, sig_mark: bool = True) -> str:
    if not np.isfinite(lo):
        return _pp(mean)
    star = "**" if sig_mark and (lo > 0 or hi < 0) else ""
    return f"{star}{_pp(mean)} [{_pp(lo)}, {_pp(hi)}]{star}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def folder(out: Path) -> str:
    t = out / "tables"
    gains, verdict = pd.read_csv(t / "budget_gains.csv"), pd.read_csv(t / "verdict.csv")
    pen, aubc = pd.read_csv(t / "penalty_matrix.csv"), pd.read_csv(t / "aubc.csv")
    heads = pd.read_csv(t / "head_agreement.csv") if (t / "head_agreement.csv").is_file() else pd.DataFrame()
    parts = []
    for (ds, emb, model, sched, cid), g in gains.groupby(["dataset", "embedder", "model", "schedule", "comparison_id"]):
        parts.append(f"### {out.name}: {ds} · {emb} · {model} · {sched} (comparison {cid[:6]})")
        labels = sorted(g["n_labeled"].unique())
        rows = []
        ranked = (aubc[(aubc.comparison_id == cid) & (aubc.level == "strategy")]
                  .sort_values("gain_mean", ascending=False)["strategy"].tolist())
        for s in ranked:
            if s == "random":
                continue
            by = g[g.strategy == s].set_index("n_labeled")
            rows.append([s] + [_ci(by.loc[n, "gain_mean"], by.loc[n, "gain_ci_low"], by.loc[n, "gain_ci_high"])
                               if n in by.index else "" for n in labels])
        rnd = g[g.strategy == "random"].set_index("n_labeled")["accuracy_mean"]
        rows.append(["(random's accuracy %)"] + [f"{100 * rnd.get(n, np.nan):.1f}" for n in labels])
        parts.append("Gain over random, points [95 % CI] (bold: the interval excludes 0), by labels:\n\n"
                     + _table(["strategy"] + [str(n) for n in labels], rows))
        v = verdict[verdict.comparison_id == cid]
        parts.append(_table(["labels", "best", "gain [95 % CI]", "p", "verdict"],
                            [[str(r.n_labeled), r.best, _ci(r.gain_mean, r.gain_ci_low, r.gain_ci_high, False),
                              f"{r.p_value:.2g}" if np.isfinite(r.p_value) else "n/a", r.verdict
                              + _flip(getattr(r, "sign_change_under", ""))]
                             for r in v.itertuples()]))
        p = pen[pen.comparison_id == cid]
        a = aubc[(aubc.comparison_id == cid) & (aubc.level == "strategy")].set_index("strategy")
        parts.append("Penalty matrix (column sums: how often beaten; row sums: wins) and AUBC:\n\n" + _table(
            ["strategy", "beaten", "wins", "AUBC %", "AUBC gain [95 % CI]"],
            [[r.strategy, f"{r.beaten:.2f}", f"{r.wins:.2f}", f"{100 * a.loc[r.strategy, 'aubc_mean']:.1f}",
              _ci(a.loc[r.strategy, "gain_mean"], a.loc[r.strategy, "gain_ci_low"], a.loc[r.strategy, "gain_ci_high"])
              if r.strategy != "random" else ""] for r in p.itertuples()]))
        if not heads.empty:
            h = heads[(heads.comparison_id == cid)]
            flips = h[h.sign_change == "yes"]
            parts.append(f"Second head ({', '.join(sorted(h.other_head.unique()))}): {len(flips)} of {len(h)} "
                         "strategy × point gains change sign" + (":\n\n" + _table(
                             ["strategy", "labels", "gain, run head", "gain, other head"],
                             [[r.strategy, str(r.n_labeled), _ci(r.gain_mean, r.gain_ci_low, r.gain_ci_high),
                               _ci(r.other_gain_mean, r.other_gain_ci_low, r.other_gain_ci_high)]
                              for r in flips.itertuples()]) if len(flips) else "."))
    return "\n\n".join(parts)


def _flip(heads) -> str:
    return f" (sign changes under {heads})" if isinstance(heads, str) and heads else ""


def _results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / "results.csv")


def cross(base: Path, other: Path) -> str:
    """Strategies of ``other`` against random of ``base``, paired by seed and labels."""
    a, b = _results(base), _results(other)
    rnd = a[a.strategy == "random"].set_index(["seed", "n_labeled"])["accuracy"]
    labels = sorted(b["n_labeled"].unique())
    rows = []
    for s, g in b.groupby("strategy"):
        cells = []
        for n in labels:
            at = g[g.n_labeled == n].set_index("seed")["accuracy"]
            keys = [(k, n) for k in at.index if (k, n) in rnd.index]
            t = paired_t(np.array([at[k] - rnd[(k, n)] for k, _ in keys]))
            cells.append(_ci(t.mean, t.ci_low, t.ci_high) + f" (n={t.n})")
        rows.append([s] + cells)
    return (f"### {other.name} over {base.name}'s random, points [95 % CI]\n\n"
            + _table(["strategy"] + [str(n) for n in labels], rows))


def side_by_side(cal: Path, raw: Path) -> str:
    """Gain over random of the strategies both folders ran, at each point, one column pair per folder."""
    ga, gb = (pd.read_csv(p / "tables" / "budget_gains.csv") for p in (cal, raw))
    res_a, res_b = _results(cal), _results(raw)
    rows = []
    for s in sorted(set(ga.strategy) & set(gb.strategy) - {"random"}):
        for n in sorted(ga.loc[ga.strategy == s, "n_labeled"].unique()):
            ra = ga[(ga.strategy == s) & (ga.n_labeled == n)].iloc[0]
            rb = gb[(gb.strategy == s) & (gb.n_labeled == n)]
            if rb.empty:
                continue
            rb = rb.iloc[0]
            diff = paired_t(_acc_diff(res_a, res_b, s, n))
            rows.append([s, str(n), _ci(ra.gain_mean, ra.gain_ci_low, ra.gain_ci_high),
                         _ci(rb.gain_mean, rb.gain_ci_low, rb.gain_ci_high),
                         _ci(diff.mean, diff.ci_low, diff.ci_high)])
    return (f"### {cal.name} against {raw.name}: gain over random, points [95 % CI]\n\n"
            + _table(["strategy", "labels", cal.name, raw.name, f"{cal.name} − {raw.name} (paired)"], rows))


def _acc_diff(ra: pd.DataFrame, rb: pd.DataFrame, s: str, n: int) -> np.ndarray:
    x = ra[(ra.strategy == s) & (ra.n_labeled == n)].set_index("seed")["accuracy"]
    y = rb[(rb.strategy == s) & (rb.n_labeled == n)].set_index("seed")["accuracy"]
    both = x.index.intersection(y.index)
    return (x[both] - y[both]).to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outputs", nargs="*", type=Path)
    ap.add_argument("--cross", action="append", default=[], metavar="BASE:OTHER")
    ap.add_argument("--raw", action="append", default=[], metavar="CAL:RAW")
    args = ap.parse_args()
    for out in args.outputs:
        print(folder(out), end="\n\n")
    for pair in args.cross:
        base, other = pair.split(":")
        print(cross(Path(base), Path(other)), end="\n\n")
    for pair in args.raw:
        cal, raw = pair.split(":")
        print(side_by_side(Path(cal), Path(raw)), end="\n\n")


if __name__ == "__main__":
    main()
