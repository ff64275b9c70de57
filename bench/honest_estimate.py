"""Issue 26 item 2: does the labeling project's audit estimate cover the truth, and what does it cost?

    .venv/bin/python bench/honest_estimate.py [--seeds 20] [--fractions 0.25 0.5] [--max-labels 300]
        [--data digits cifar] [--csv ROWS.csv] [--summary SUMMARY.csv]
    .venv/bin/python bench/honest_estimate.py --from-csv ROWS.csv [...] --summary SUMMARY.csv

Simulated labeling sessions that run the project's own pieces on a dataset's pool (digits with
``pixels`` features; the CIFAR-10 subset with ``kmeans_patches``, fitted on the pool): batches of
``--batch`` (20) images, the first picked by typiclust, the later ones by the project's default
strategy (``auto``) from the current model's probabilities and the labels so far, each with an
audit share ``f`` drawn uniformly from the unlabeled images (``al_bench.select``'s
``random_fraction``, as the project draws it). After each batch, what the project's fit does:
5-fold cross-fitting of its linear head (``al_bench.labeling.estimate.cross_fit``, the same
seeded folds), the head on every label, and the estimate from the audited images
(``audit_estimate``). The truth is that head's accuracy on the pool images still unlabeled.

Printed per dataset and audit share: the interval's coverage over (session, batch) pairs from 50
labels on, the mean absolute error at 100 and at ``--max-labels`` labels (and of the old
estimate, cross-validation on every label, beside it), the mean audit size there; and the cost,
the test-split accuracy at those points against sessions without an audit (f = 0), paired by seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = {"digits": ["dataset=digits", "embedder=pixels"],
        "cifar": ["dataset=npz", f"dataset.path={ROOT.parent / 'shared' / 'datasets' / 'cifar10_subset.npz'}",
                  "embedder=kmeans_patches"]}


def load(name: str):
    """(pool features, pool labels, test features, test labels, classes) of seed 0's split."""
    from hydra import compose, initialize_config_module

    from al_bench.cli.run import settings_from
    from al_bench.data.loaders import load_dataset
    from al_bench.run import run_embedding, run_split

    with initialize_config_module("al_bench.conf", version_base=None):
        cfg = compose("config", overrides=DATA[name] + [f"paths.data_dir={ROOT / 'data'}"])
    s, _ = settings_from(cfg)
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    ds, split = run_split(s, ds)
    x = run_embedding(s, ds, split).features
    return (x[split.pool], ds.labels[split.pool], x[split.test], ds.labels[split.test],
            [str(c) for c in ds.class_names])


def session(x, y, xt, yt, classes, seed: int, f: float, batch: int, max_labels: int, estimate: bool) -> list[dict]:
    import al_bench
    from al_bench.heads import softmax
    from al_bench.heads.calibration import fit_temperature
    from al_bench.heads.linear import linear_head
    from al_bench.labeling.estimate import audit_estimate, cross_fit
    from al_bench.labeling.training import CV_FOLDS, TEMPERATURE_RANGE
    from al_bench.rng import stream

    ids = [f"img{i:05d}" for i in range(len(y))]
    c, d = len(classes), x.shape[1]
    labeled: list[int] = []
    audit = np.zeros(len(y), bool)
    probs, rows = None, []
    while len(labeled) < max_labels:
        lab = np.asarray(labeled, np.int64)
        kw = {} if probs is None else {"probs": probs, "labels": [int(v) for v in y[lab]]}
        sel = al_bench.select(ids, x, batch, "typiclust" if probs is None else "auto", labeled=[ids[i] for i in lab],
                              random_fraction=f, rng=seed * 1000 + len(labeled), **kw)
        picks = np.asarray(sel.positions, np.int64)
        audit[picks[~sel.by_strategy]] = True
        labeled += picks.tolist()
        lab = np.asarray(labeled, np.int64)
        head = linear_head(d, c, seed).fit(x[lab], y[lab])
        rest = np.setdiff1d(np.arange(len(y)), lab)
        row = {"seed": seed, "audit_fraction": f, "n_labeled": lab.size, "n_audit": int(audit[lab].sum()),
               "truth": float((head.logits(x[rest]).argmax(1) == y[rest]).mean()),
               "test_accuracy": float((head.logits(xt).argmax(1) == yt).mean())}
        if estimate and lab.size >= 10:
            oof, _ = cross_fit(x[lab], y[lab], c, min(CV_FOLDS, lab.size), stream(seed, "cv", lab.size),
                               lambda: linear_head(d, c, seed))
            right = oof.argmax(1) == y[lab]
            a = audit[lab]
            est = audit_estimate(right[a], y[lab][a], classes, lab.size)
            # as the project's fit: the temperature from the out-of-fold logits, the audited images'
            # out-of-fold confidence and the model's on the unlabeled images
            t = fit_temperature(oof, y[lab], *TEMPERATURE_RANGE) if right.mean() < 1.0 else 1.0
            conf_audit = softmax(oof[a] / t).max(1)
            head.temperature = t
            diff = audit_estimate(right[a], y[lab][a], classes, lab.size, conf_audit,
                                  head.predict_proba(x[rest]).max(1))
            row.update(estimate=est.accuracy, ci_low=est.ci_low, ci_high=est.ci_high, cv_accuracy=float(right.mean()),
                       difference=diff.accuracy, diff_low=diff.ci_low, diff_high=diff.ci_high)
        rows.append(row)
        probs = head.predict_proba(x)  # temperature 1: the project fits one only from 10 labels on
    return rows


def summary(df: pd.DataFrame, max_labels: int) -> pd.DataFrame:
    out = []
    base = df[df["audit_fraction"] == 0].set_index(["seed", "n_labeled"])["test_accuracy"]
    for f, g in df[df["audit_fraction"] > 0].groupby("audit_fraction"):
        late = g[(g["n_labeled"] >= 50) & g["estimate"].notna()]
        cover = ((late["ci_low"] <= late["truth"]) & (late["truth"] <= late["ci_high"])).mean()
        row = {"audit_fraction": f, "coverage_from_50": cover, "pairs": len(late)}
        if "difference" in g:
            row["diff_coverage_from_50"] = ((late["diff_low"] <= late["truth"]) & (late["truth"] <= late["diff_high"])).mean()
        for n in (100, max_labels):
            at = g[g["n_labeled"] == n]
            row[f"mae_{n}"] = (at["estimate"] - at["truth"]).abs().mean()
            row[f"bias_{n}"] = (at["estimate"] - at["truth"]).mean()
            if "difference" in g:
                row[f"diff_mae_{n}"] = (at["difference"] - at["truth"]).abs().mean()
                row[f"diff_bias_{n}"] = (at["difference"] - at["truth"]).mean()
            row[f"cv_mae_{n}"] = (at["cv_accuracy"] - at["truth"]).abs().mean()
            row[f"audit_{n}"] = at["n_audit"].mean()
            cost = base.reindex(list(zip(at["seed"], at["n_labeled"]))).to_numpy() - at["test_accuracy"].to_numpy()
            row[f"cost_{n}"] = float(np.nanmean(cost))
            row[f"cost_sd_{n}"] = float(np.nanstd(cost, ddof=1))
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5])
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--max-labels", type=int, default=300)
    ap.add_argument("--data", nargs="+", default=["digits", "cifar"], choices=sorted(DATA))
    ap.add_argument("--csv", type=Path, help="write every (session, batch) row here")
    ap.add_argument("--summary", type=Path, help="write the summary table (per data and audit share) here")
    ap.add_argument("--from-csv", type=Path, nargs="+", help="summarize rows an earlier run wrote (--csv) instead")
    a = ap.parse_args()
    if a.from_csv:
        rows = pd.concat([pd.read_csv(f) for f in a.from_csv], ignore_index=True)
        out = pd.concat([summary(g, a.max_labels).assign(data=name) for name, g in rows.groupby("data", sort=False)])
        out = out[["data"] + [c for c in out.columns if c != "data"]]
        print(out.round(4).to_string(index=False))
        if a.summary:
            out.to_csv(a.summary, index=False)
        return
    frames = []
    for name in a.data:
        x, y, xt, yt, classes = load(name)
        t0 = time.perf_counter()
        rows = []
        for seed in range(a.seeds):
            for f in [0.0] + list(a.fractions):
                rows += session(x, y, xt, yt, classes, seed, f, a.batch, a.max_labels, estimate=f > 0)
        df = pd.DataFrame(rows).assign(data=name)
        frames.append(df)
        print(f"== {name}: pool {len(y)} x {x.shape[1]}, {a.seeds} seeds, {time.perf_counter() - t0:.0f} s")
        print(summary(df, a.max_labels).round(4).to_string(index=False))
    if a.csv:
        pd.concat(frames, ignore_index=True).to_csv(a.csv, index=False)


if __name__ == "__main__":
    main()
