"""The headline tables of issue 25's long-tail study, in Markdown, from the folders that
``bench/long_tail_study.sh`` wrote (aggregated on accuracy and on balanced accuracy).

    .venv/bin/python bench/long_tail_tables.py ROOT SLICE [SLICE ...] > tables.md

Per slice (``ROOT/<slice>`` and ``ROOT/<slice>_lure``):

1. the winner at each budget point by accuracy and by balanced accuracy (``verdict.csv`` and
   ``verdict.balanced_accuracy.csv``: the best strategy, its gain over random [95 % CI], and
   whether it beats random), so a reader sees where the two metrics disagree;
2. rare-class discovery for the pool's rarest class (the last in class order): per strategy,
   the seeds that found its first and fifth item within the budget, the mean labels to the
   first when every seed found it, and the sign test against random (``labels_to_find.csv``);
3. the mitigations, seed-paired at each point on balanced accuracy: margin with
   ``class_balance=fallback`` and ``predicted`` minus plain margin, sampled margin with LURE
   minus without, random with LURE minus without (``results.csv`` of both folders: the same
   seed has the same split and initial set in both).

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


def _ci(mean: float, lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return _pp(mean)
    star = "**" if lo > 0 or hi < 0 else ""
    return f"{star}{_pp(mean)} [{_pp(lo)}, {_pp(hi)}]{star}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def _names(out: Path) -> dict[str, str]:
    """name@id → a readable name (variants.csv), e.g. margin@95bee1 → margin+predicted."""
    path = out / "tables" / "variants.csv"
    if not path.is_file():
        return {}
    v = pd.read_csv(path, dtype=str, keep_default_na=False)
    short = {"class_balance=fallback": "+fallback", "class_balance=predicted": "+predicted",
             "sampling=softmax": "+softmax"}
    names = {}
    for r in v.itertuples():
        if "@" in r.strategy:
            tags = [short[p] for p in str(r.differs).split(", ") if p in short]
            names[r.strategy] = r.name + ("".join(tags) if tags else "")
    return names


METRICS = ("accuracy", "balanced_accuracy", "worst_class_recall")


def winners(out: Path) -> str:
    """The best strategy per point on each metric aggregated (verdict.<metric>.csv), with its
    gain [95 % CI]; a star when it beats random; the last column says whether they agree."""
    t, names = out / "tables", _names(out)
    files = {m: t / ("verdict.csv" if m == "accuracy" else f"verdict.{m}.csv") for m in METRICS}
    tables = {m: pd.read_csv(f).set_index("n_labeled") for m, f in files.items() if f.is_file()}
    rows = []
    for n in tables["accuracy"].index:
        cells, bests = [str(n)], []
        for v in (tables[m].loc[n] for m in tables):
            best = names.get(v["best"], v["best"])
            if str(v["verdict"]).startswith("all "):
                best = "(all tied)"
            bests.append(best)
            star = " ★" if v["beats_random"] == "yes" else ""
            cells += [best + star, _ci(v["gain_mean"], v["gain_ci_low"], v["gain_ci_high"])]
        cells.append("same" if len(set(bests)) == 1 else "**differs**")
        rows.append(cells)
    header = ["labels"]
    for m in tables:
        header += [f"best by {m.replace('_', ' ')}", "gain [95 % CI]"]
    return ("Winner per point (★: beats random, p < 0.05, seed-paired):\n\n"
            + _table(header + ["winners"], rows))


def discovery(out: Path) -> str:
    names = _names(out)
    f = pd.read_csv(out / "tables" / "labels_to_find.csv")
    rarest = f["class"].astype(str).unique()[-1]
    f = f[f["class"].astype(str) == rarest]
    rows = []
    first, fifth = f[f.nth == 1].set_index("strategy"), f[f.nth == 5].set_index("strategy")
    order = first.sort_values(["n_reached", "labels_mean"], ascending=[False, True]).index
    for s in order:
        a, b = first.loc[s], fifth.loc[s]
        p = a.get("reach_p_value", np.nan)
        rows.append([names.get(s, s), f"{int(a.n_reached)}/{int(a.n_seeds)}",
                     f"{a.labels_mean:.0f}" if np.isfinite(a.labels_mean) else "–",
                     f"{p:.2g}" if s != "random" and np.isfinite(p) else "",
                     f"{int(b.n_reached)}/{int(b.n_seeds)}",
                     f"{b.labels_mean:.0f}" if np.isfinite(b.labels_mean) else "–"])
    budget = int(first["budget_labels"].max())
    return (f"Rarest class `{rarest}`, within {budget} labels (first item: seeds that found it, mean labels when "
            "all did, sign test vs random; fifth item):\n\n"
            + _table(["strategy", "found 1st", "labels to 1st", "p vs random", "found 5th", "labels to 5th"], rows))


def _paired(res: pd.DataFrame, a: str, b: str, metric: str, other: pd.DataFrame | None = None) -> dict[int, str]:
    """Per budget point: strategy ``a`` minus ``b`` (of ``other`` when given), seed-paired, [95 % CI]."""
    other = res if other is None else other
    x = res[res.strategy == a].set_index(["n_labeled", "seed"])[metric]
    y = other[other.strategy == b].set_index(["n_labeled", "seed"])[metric]
    d = (x - y).dropna()
    out = {}
    for n, g in d.groupby(level=0):
        t = paired_t(g.to_numpy())
        out[int(n)] = _ci(t.mean, t.ci_low, t.ci_high)
    return out


def mitigations(out: Path, lure: Path, metric: str = "balanced_accuracy") -> str:
    names = _names(out)
    res = pd.read_csv(out / "tables" / "results.csv")
    by_name = {v: k for k, v in names.items()}
    plain, rows = by_name.get("margin"), []
    for tag in ("margin+fallback", "margin+predicted"):
        if plain and tag in by_name:
            rows.append((f"{tag} − margin", _paired(res, by_name[tag], plain, metric)))
    if lure.is_dir():
        lres, lnames = pd.read_csv(lure / "tables" / "results.csv"), _names(lure)
        soft, lsoft = by_name.get("margin+softmax"), ("margin" if "margin" in set(lres.strategy) else
                                                       {v: k for k, v in lnames.items()}.get("margin+softmax"))
        if soft and lsoft:
            rows.append(("margin+softmax+LURE − margin+softmax", _paired(lres, lsoft, soft, metric, res)))
        rows.append(("random+LURE − random", _paired(lres, "random", "random", metric, res)))
    labels = sorted({n for _, d in rows for n in d})
    return (f"Mitigations, seed-paired difference in {metric.replace('_', ' ')} points [95 % CI], by labels:\n\n"
            + _table(["comparison"] + [str(n) for n in labels], [[name] + [d.get(n, "") for n in labels]
                                                                  for name, d in rows]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("slices", nargs="+")
    args = ap.parse_args(argv)
    for s in args.slices:
        out = args.root / s
        print(f"### {s}\n\n{winners(out)}\n\n{discovery(out)}\n\n{mitigations(out, args.root / (s + '_lure'))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
