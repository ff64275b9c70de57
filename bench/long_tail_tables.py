"""The headline tables of issue 25's long-tail study, from the folders that
``bench/long_tail_study.sh`` wrote (aggregated on accuracy, balanced accuracy and worst-class
recall).

    .venv/bin/python bench/long_tail_tables.py ROOT SLICE [SLICE ...]            # Markdown
    .venv/bin/python bench/long_tail_tables.py ROOT SLICE ... --csv OUT           # and OUT/*.csv

Per slice (``ROOT/<slice>`` and ``ROOT/<slice>_lure``):

1. ``winners``: the best strategy at each budget point by accuracy, balanced accuracy and
   worst-class recall (``verdict[.<metric>].csv``), its gain over random [95 % CI], whether it
   beats random (p < 0.05, seed-paired) and whether the metrics agree;
2. ``discovery``: the pool's rarest class (the last in class order): per strategy, the seeds
   that found its first and fifth item within the budget, the mean labels to each when every
   seed found it, and the exact sign test against random (``labels_to_find.csv``);
3. ``label_mix``: where the labels went — per strategy and point, the share of labels in the
   tail classes (less than 1/C of the pool) and in the rarest class, over random's;
4. ``mitigations``: seed-paired differences at each point in balanced accuracy (and accuracy):
   margin with ``class_balance=fallback`` and ``predicted`` minus plain margin, sampled margin
   with LURE minus without, random with LURE minus without (``results.csv`` of both folders:
   the same seed has the same split and initial set in both).
5. ``run_seconds``: the runs' own seconds per strategy (``status.json``; the run-folder name, so
   variants share their strategy's row), the wall time's make-up.

Variants are named by what they change (``margin+predicted``), from ``variants.csv``. Reads
files only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from al_bench.report.stats import paired_t

METRICS = ("accuracy", "balanced_accuracy", "worst_class_recall")
SHORT = {"class_balance=fallback": "+fallback", "class_balance=predicted": "+predicted", "sampling=softmax": "+softmax"}


def _pp(v: float) -> str:
    return f"{100 * v:+.1f}" if np.isfinite(v) else "n/a"


def _ci(mean: float, lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return _pp(mean)
    star = "**" if lo > 0 or hi < 0 else ""
    return f"{star}{_pp(mean)} [{_pp(lo)}, {_pp(hi)}]{star}"


def _labels_ci(r: pd.Series) -> str:
    """Labels saved against random at the same seed (positive: found sooner), [95 % CI], pairs."""
    if not np.isfinite(r["saved_mean"]):
        return "n/a"
    star = "**" if r["saved_ci_low"] > 0 or r["saved_ci_high"] < 0 else ""
    ci = f" [{r['saved_ci_low']:+.0f}, {r['saved_ci_high']:+.0f}]" if np.isfinite(r["saved_ci_low"]) else ""
    return f"{star}{r['saved_mean']:+.0f}{ci}{star} ({int(r['n_pairs'])})"


def _markdown(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                     + ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)])


def names(out: Path) -> dict[str, str]:
    """name@id → a readable name (variants.csv), e.g. margin@95bee1 → margin+predicted."""
    path = out / "tables" / "variants.csv"
    if not path.is_file():
        return {}
    v = pd.read_csv(path, dtype=str, keep_default_na=False)
    found = {}
    for r in v.itertuples():
        if "@" in r.strategy:
            found[r.strategy] = r.name + "".join(SHORT[p] for p in r.differs.split(", ") if p in SHORT)
    return found


def winners(out: Path) -> pd.DataFrame:
    """One row per budget point and metric: the best strategy, its gain [95 % CI], p, beats random."""
    t, readable = out / "tables", names(out)
    rows = []
    for m in METRICS:
        f = t / ("verdict.csv" if m == "accuracy" else f"verdict.{m}.csv")
        if not f.is_file():
            continue
        for v in pd.read_csv(f).itertuples():
            tied = str(v.verdict).startswith("all ")
            rows.append({"metric": m, "n_labeled": int(v.n_labeled),
                         "best": "(all tied)" if tied else readable.get(v.best, v.best),
                         "gain_mean": v.gain_mean, "gain_ci_low": v.gain_ci_low, "gain_ci_high": v.gain_ci_high,
                         "p_value": v.p_value, "beats_random": v.beats_random == "yes" and not tied})
    return pd.DataFrame(rows)


def discovery(out: Path) -> pd.DataFrame:
    """The rarest class's first and fifth item: per strategy, seeds that found it, labels, sign test."""
    readable = names(out)
    f = pd.read_csv(out / "tables" / "labels_to_find.csv")
    rarest = f["class"].astype(str).unique()[-1]
    f = f[f["class"].astype(str) == rarest].copy()
    f["strategy"] = [readable.get(s, s) for s in f["strategy"]]
    keep = ["strategy", "class", "nth", "n_seeds", "n_reached", "budget_labels", "labels_mean", "saved_mean",
            "saved_ci_low", "saved_ci_high", "n_pairs", "only_this_reached", "only_random_reached", "reach_p_value"]
    return f[[c for c in keep if c in f.columns]].reset_index(drop=True)


def label_mix(out: Path) -> pd.DataFrame:
    """Where the labels went: per strategy and budget point, the share of labels in the tail (the
    classes holding less than 1/C of the pool) and in the rarest class, each over random's at
    that point (random's mean over seeds estimates the pool's shares): above 1, the strategy
    buys the tail more than its prevalence; below, acquisition bias toward the head."""
    res = pd.read_csv(out / "tables" / "results.csv")
    res["strategy"] = [names(out).get(s, s) for s in res["strategy"]]
    cols = [c for c in res.columns if c.startswith("labeled_")]
    share = res[cols].div(res[cols].sum(axis=1), axis=0)
    last = res["n_labeled"] == res["n_labeled"].max()
    pool = share[(res.strategy == "random") & last].mean()  # random's labels at the last point
    tail = [c for c in cols if pool[c] < 1 / len(cols)]
    res = res.assign(tail_share=share[tail].sum(axis=1), rarest_share=share[cols[-1]])
    g = res.groupby(["strategy", "n_labeled"])[["tail_share", "rarest_share"]].mean().reset_index()
    rnd = g[g.strategy == "random"].set_index("n_labeled")
    g["tail_vs_random"] = g["tail_share"] / g["n_labeled"].map(rnd["tail_share"])
    g["rarest_vs_random"] = g["rarest_share"] / g["n_labeled"].map(rnd["rarest_share"])
    return g.assign(tail_classes=len(tail))


def run_seconds(out: Path) -> pd.DataFrame:
    """Where the wall time went: per strategy (as named in the tables), the runs' own seconds
    (``status.json``) summed over seeds, and the share of the slice's total."""
    import json

    rows = []
    for status in Path(out, "runs").rglob("status.json"):
        st = json.loads(status.read_text())
        if st.get("status") == "ok":
            rows.append({"folder": status.parent.parent.name, "seconds": float(st.get("seconds", np.nan))})
    t = pd.DataFrame(rows, columns=["folder", "seconds"]).groupby("folder")["seconds"].agg(["sum", "size"])
    t = t.rename(columns={"sum": "run_seconds", "size": "runs"}).sort_values("run_seconds", ascending=False)
    return t.assign(share=t.run_seconds / t.run_seconds.sum()).reset_index().rename(columns={"folder": "strategy"})


def _paired(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> pd.DataFrame:
    """a − b per budget point, paired by seed: mean, 95 % CI, p, pairs."""
    d = (a.set_index(["n_labeled", "seed"])[metric] - b.set_index(["n_labeled", "seed"])[metric]).dropna()
    rows = []
    for n, g in d.groupby(level=0):
        t = paired_t(g.to_numpy())
        rows.append({"n_labeled": int(n), "diff_mean": t.mean, "diff_ci_low": t.ci_low, "diff_ci_high": t.ci_high,
                     "p_value": t.p_value, "n_pairs": t.n})
    return pd.DataFrame(rows)


def mitigations(out: Path, lure: Path) -> pd.DataFrame:
    """Each mitigation minus the same strategy without it, seed-paired, on two metrics."""
    res = pd.read_csv(out / "tables" / "results.csv")
    res["strategy"] = [names(out).get(s, s) for s in res["strategy"]]
    pairs = [(f"{tag} − margin", res[res.strategy == tag], res[res.strategy == "margin"])
             for tag in ("margin+fallback", "margin+predicted")]
    if (lure / "tables" / "results.csv").is_file():
        lres = pd.read_csv(lure / "tables" / "results.csv")
        lres["strategy"] = [names(lure).get(s, s) for s in lres["strategy"]]
        soft = "margin+softmax" if "margin+softmax" in set(lres.strategy) else "margin"
        pairs += [("margin+softmax+LURE − margin+softmax", lres[lres.strategy == soft],
                   res[res.strategy == "margin+softmax"]),
                  ("random+LURE − random", lres[lres.strategy == "random"], res[res.strategy == "random"])]
    frames = []
    for name, a, b in pairs:
        if len(a) and len(b):
            for m in ("balanced_accuracy", "accuracy"):
                frames.append(_paired(a, b, m).assign(comparison=name, metric=m))
    cols = ["comparison", "metric", "n_labeled", "diff_mean", "diff_ci_low", "diff_ci_high", "p_value", "n_pairs"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def render(slice_name: str, win: pd.DataFrame, disc: pd.DataFrame, mit: pd.DataFrame, mix: pd.DataFrame) -> str:
    w = win.assign(cell=[f"{b}{' ★' if ok else ''} {_ci(g, lo, hi)}" for b, ok, g, lo, hi in
                         zip(win.best, win.beats_random, win.gain_mean, win.gain_ci_low, win.gain_ci_high)])
    wide = w.pivot(index="n_labeled", columns="metric", values="cell")[[m for m in METRICS if m in set(w.metric)]]
    best = win.pivot(index="n_labeled", columns="metric", values="best")
    wide["metrics agree"] = ["yes" if len(set(r)) == 1 else "**no**" for r in best.itertuples(index=False)]
    wide = wide.reset_index().rename(columns={m: f"best by {m.replace('_', ' ')}" for m in METRICS})
    first, fifth = disc[disc.nth == 1].set_index("strategy"), disc[disc.nth == 5].set_index("strategy")
    order = first.sort_values(["n_reached", "labels_mean"], ascending=[False, True]).index
    d = pd.DataFrame([{
        "strategy": s, "found 1st": f"{int(first.at[s, 'n_reached'])}/{int(first.at[s, 'n_seeds'])}",
        "labels to 1st": f"{first.at[s, 'labels_mean']:.0f}" if np.isfinite(first.at[s, "labels_mean"]) else "–",
        "1st: labels saved vs random [95 % CI]": "" if s == "random" else _labels_ci(first.loc[s]),
        "found: p vs random": "" if s == "random" else f"{first.at[s, 'reach_p_value']:.2g}",
        "found 5th": f"{int(fifth.at[s, 'n_reached'])}/{int(fifth.at[s, 'n_seeds'])}",
        "labels to 5th": f"{fifth.at[s, 'labels_mean']:.0f}" if np.isfinite(fifth.at[s, "labels_mean"]) else "–"}
        for s in order])
    m = mit[mit.metric == "balanced_accuracy"]
    m = m.assign(cell=[_ci(a, lo, hi) for a, lo, hi in zip(m.diff_mean, m.diff_ci_low, m.diff_ci_high)])
    mw = m.pivot(index="comparison", columns="n_labeled", values="cell").reset_index() if len(m) else m
    rarest = disc["class"].iloc[0] if len(disc) else "?"
    return (f"### {slice_name}\n\nWinner per point (★: beats random, p < 0.05, seed-paired; gain over random, "
            f"points [95 % CI]):\n\n{_markdown(wide)}\n\nRarest class `{rarest}` within "
            f"{int(disc.budget_labels.max())} labels (seeds that found its first / fifth item, mean labels when "
            "every seed did, labels saved against random at the same seed over the seeds where both found it "
            f"(pairs), exact sign test vs random on whether it was found):\n\n{_markdown(d)}\n\nMitigations, seed-paired "
            f"difference in balanced accuracy, points [95 % CI], by labels:\n\n{_markdown(mw)}\n\n"
            f"Label mix: share of labels in the {int(mix.tail_classes.iloc[0])} tail classes over random's "
            f"(above 1: more tail than its prevalence), by labels:\n\n"
            f"{_markdown(mix.pivot(index='strategy', columns='n_labeled', values='tail_vs_random').round(2).reset_index())}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("slices", nargs="+")
    ap.add_argument("--csv", type=Path, default=None, help="also write winners.csv, discovery.csv, mitigations.csv")
    args = ap.parse_args(argv)
    tables = {"winners": [], "discovery": [], "mitigations": [], "label_mix": [], "run_seconds": []}
    for s in args.slices:
        out = args.root / s
        win, disc, mit, mix = winners(out), discovery(out), mitigations(out, args.root / f"{s}_lure"), label_mix(out)
        secs = pd.concat([run_seconds(out), run_seconds(args.root / f"{s}_lure").assign(
            strategy=lambda t: t.strategy + "+LURE")], ignore_index=True)
        for k, t in zip(tables, (win, disc, mit, mix, secs)):
            tables[k].append(t.assign(slice=s))
        print(render(s, win, disc, mit, mix))
    if args.csv is not None:
        args.csv.mkdir(parents=True, exist_ok=True)
        for k, frames in tables.items():
            t = pd.concat(frames, ignore_index=True)
            t[["slice"] + [c for c in t.columns if c != "slice"]].to_csv(args.csv / f"{k}.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
