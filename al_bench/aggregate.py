"""Aggregate run files into tables and the learning-curve figure. Reads files only.

    python -m al_bench.aggregate OUTPUTS_DIR

writes, under OUTPUTS_DIR:
  tables/results.csv          every curve row of every finished run (long form)
  tables/budget_gains.csv     seed-paired accuracy gain over random at each budget point
  tables/labels_to_match.csv  fewest labels at which each strategy matches full-pool accuracy
  tables/run_status.csv       every run found, with its status (failed / unfinished are listed)
  figures/learning_curves.png mean ± 1 std over seeds, one line per strategy
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .results import CURVE, TIMING, find_runs, write_csv

log = logging.getLogger(__name__)

__all__ = ["aggregate", "budget_gains", "labels_to_match", "plot_learning_curves", "AggregateReport", "GROUP"]

# runs are only compared within one group: same data, features, head and budget schedule
GROUP = ["dataset", "embedder", "model", "schedule"]
BASELINE = "random"


@dataclass
class AggregateReport:
    outputs_dir: Path
    results: pd.DataFrame
    gains: pd.DataFrame
    to_match: pd.DataFrame
    status: pd.DataFrame
    figure: Path | None
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        n_ok = int((self.status["status"] == "ok").sum()) if len(self.status) else 0
        lines = [f"aggregate: {n_ok} finished run(s) under {self.outputs_dir}"]
        if self.figure is not None:
            lines.append(f"  figure: {self.figure}")
        lines.append(f"  tables: {self.outputs_dir / 'tables'}")
        for p in self.problems:
            lines.append(f"  NOT INCLUDED: {p}")
        return "\n".join(lines)


def _std(x: pd.Series) -> float:
    return float(x.std(ddof=1)) if len(x) > 1 else float("nan")


def budget_gains(results: pd.DataFrame) -> pd.DataFrame:
    """Seed-paired gain over random at every budget point.

    For each seed, gain = accuracy(strategy) − accuracy(random) at the same seed and budget
    point (same split and initial set, so the comparison is paired); then mean and std
    (ddof=1) over the paired seeds. ``accuracy_*`` summarise all seeds of the strategy.
    """
    keys = GROUP + ["budget"]
    base = results.loc[results["strategy"] == BASELINE, keys + ["seed", "accuracy"]]
    base = base.rename(columns={"accuracy": "random_accuracy"})
    paired = results.merge(base, on=keys + ["seed"], how="left")
    paired["gain"] = paired["accuracy"] - paired["random_accuracy"]
    rows = []
    for k, g in paired.groupby(keys + ["strategy"], sort=True):
        ok = g.dropna(subset=["gain"])
        rows.append({
            **dict(zip(keys + ["strategy"], k)),
            "n_labeled": int(round(g["n_labeled"].mean())),
            "accuracy_mean": g["accuracy"].mean(),
            "accuracy_std": _std(g["accuracy"]),
            "random_mean": ok["random_accuracy"].mean() if len(ok) else np.nan,
            "gain_mean": ok["gain"].mean() if len(ok) else np.nan,
            "gain_std": _std(ok["gain"]),
            "n_seeds": int(g["seed"].nunique()),
            "n_paired": int(ok["seed"].nunique()),
        })
    cols = GROUP + ["strategy", "budget", "n_labeled", "accuracy_mean", "accuracy_std", "random_mean",
                    "gain_mean", "gain_std", "n_seeds", "n_paired"]
    return pd.DataFrame(rows, columns=cols)


def _first_crossing(n: np.ndarray, acc: np.ndarray, target: float) -> float:
    """Labels at which the piecewise-linear curve (n, acc) first reaches ``target``; NaN if never."""
    hit = np.flatnonzero(acc >= target - 1e-12)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(n[0])
    a0, a1 = acc[i - 1], acc[i]
    return float(n[i - 1] + (target - a0) / (a1 - a0) * (n[i] - n[i - 1]))


def labels_to_match(results: pd.DataFrame) -> pd.DataFrame:
    """Fewest labels at which each strategy's mean accuracy reaches full-pool accuracy.

    The target is the mean over seeds of the same head trained on the whole pool; between
    budget points the mean curve is interpolated linearly. The saving is relative to random.
    """
    rows = []
    for gk, g in results.groupby(GROUP, sort=True):
        target = g.drop_duplicates("seed")["full_pool_accuracy"].mean()
        found = {}
        for strategy, s in g.groupby("strategy", sort=True):
            curve = s.groupby("budget").agg(n=("n_labeled", "mean"), acc=("accuracy", "mean")).sort_index()
            found[strategy] = (_first_crossing(curve["n"].to_numpy(), curve["acc"].to_numpy(), target),
                               int(curve["n"].iloc[-1]), int(s["seed"].nunique()))
        rnd = found.get(BASELINE, (np.nan,))[0]
        for strategy, (labels, largest, n_seeds) in found.items():
            rows.append({
                **dict(zip(GROUP, gk)), "strategy": strategy, "target_accuracy": target,
                "labels_to_match": labels if np.isfinite(labels) else np.nan,
                "reached": "yes" if np.isfinite(labels) else f"not reached by {largest}",
                "random_labels": rnd,
                "labels_saved": rnd - labels if np.isfinite(labels) and np.isfinite(rnd) else np.nan,
                "saving_fraction": (rnd - labels) / rnd if np.isfinite(labels) and np.isfinite(rnd) else np.nan,
                "n_seeds": n_seeds,
            })
    return pd.DataFrame(rows)


def plot_learning_curves(results: pd.DataFrame, path: Path) -> Path:
    """Accuracy vs labels, mean ± 1 std over seeds, one panel per (dataset, embedder, model, schedule)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    groups = list(results.groupby(GROUP, sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(7.5 * len(groups), 5.2), squeeze=False)
    strategies = sorted(results["strategy"].unique(), key=lambda s: (s != BASELINE, s))
    palette = dict(zip(strategies, ["black"] + sns.color_palette("tab10", max(1, len(strategies) - 1))))
    for ax, (gk, g) in zip(axes[0], groups):
        n_seeds = g.groupby("strategy")["seed"].nunique()
        g = g.assign(label=g["strategy"].map(lambda s: f"{s} (n={n_seeds[s]})"))
        order = [f"{s} (n={n_seeds[s]})" for s in strategies if s in n_seeds]
        sns.lineplot(data=g, x="n_labeled", y="accuracy", hue="label", hue_order=order, errorbar="sd",
                     marker="o", markersize=4, ax=ax,
                     palette={f"{s} (n={n_seeds[s]})": palette[s] for s in n_seeds.index},
                     style="label", dashes={o: (4, 2) if o.startswith(BASELINE + " ") else "" for o in order})
        full = g.drop_duplicates("seed")["full_pool_accuracy"].mean()
        ax.axhline(full, color="grey", lw=0.8, ls=":", label=f"full pool ({full:.3f})")
        pts = g.groupby("budget")["n_labeled"].mean()
        ax.set_xscale("log")
        ax.set_xticks(pts.to_numpy())
        ax.set_xticklabels([f"{int(round(n))}\n{b:.0%}" for b, n in pts.items()])
        ax.minorticks_off()
        ax.set_xlabel("labeled images (fraction of pool)")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ds, emb, model, sched = gk
        ax.set_title(f"{ds} · {emb} embeddings · {model} head · budget '{sched}'", fontsize=10)
        ax.legend(title="strategy (seeds)", fontsize=8, title_fontsize=8, loc="lower right")
    fig.suptitle("Active-learning curves: mean ± 1 std over seeds", fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=130)
    plt.close(fig)
    tmp.replace(path)
    return path


def _expected_runs(outputs_dir: Path) -> set[Path]:
    """Run folders that sweeps announced before launching (``outputs_dir/sweeps/*.txt``)."""
    expected = set()
    for listing in sorted((outputs_dir / "sweeps").glob("*.txt")):
        expected.update(Path(line).resolve() for line in listing.read_text().splitlines() if line.strip())
    return expected


def aggregate(outputs_dir: Path, runs_dir: Path | None = None) -> AggregateReport:
    """Read every run under ``runs_dir`` (default ``outputs_dir/runs``) and write tables and figure."""
    outputs_dir = Path(outputs_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else outputs_dir / "runs"
    records = find_runs(runs_dir)
    frames, status_rows, problems = [], [], []
    for r in records:
        rel = r.run_dir.relative_to(runs_dir).as_posix() if r.run_dir.is_relative_to(runs_dir) else str(r.run_dir)
        st = r.status.get("status", "unknown")
        status_rows.append({"run": rel, "status": st if st != "ok" or r.ok else "missing curve.csv",
                            "error": r.status.get("error", "")})
        if r.ok:
            frame = pd.read_csv(r.run_dir / CURVE)
            if (r.run_dir / TIMING).is_file():  # wall times and memory sit beside the results
                timing = pd.read_csv(r.run_dir / TIMING)
                frame = frame.merge(timing[["budget", *[c for c in timing.columns if c.endswith(("_seconds", "_mb"))]]],
                                    on="budget", how="left", validate="one_to_one")
            frames.append(frame.assign(run=rel))
        else:
            problems.append(f"{rel}: {status_rows[-1]['status']}" + (f" ({r.status['error']})" if r.status.get("error") else ""))
    seen = {r.run_dir.resolve() for r in records}
    for listed in sorted(_expected_runs(outputs_dir) - seen):
        rel = listed.relative_to(runs_dir.resolve()).as_posix() if listed.is_relative_to(runs_dir.resolve()) else str(listed)
        status_rows.append({"run": rel, "status": "never started", "error": ""})
        problems.append(f"{rel}: never started (listed by a sweep in {outputs_dir / 'sweeps'})")
    status = pd.DataFrame(status_rows, columns=["run", "status", "error"])
    tables = outputs_dir / "tables"
    write_csv(status, tables / "run_status.csv")
    if not frames:
        problems.insert(0, f"no finished runs under {runs_dir}")
        return AggregateReport(outputs_dir, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), status, None, problems)
    results = pd.concat(frames, ignore_index=True).sort_values(GROUP + ["strategy", "seed", "budget"], kind="stable")
    gains = budget_gains(results)
    to_match = labels_to_match(results)
    write_csv(results, tables / "results.csv")
    write_csv(gains, tables / "budget_gains.csv")
    write_csv(to_match, tables / "labels_to_match.csv")
    figure = plot_learning_curves(results, outputs_dir / "figures" / "learning_curves.png")
    return AggregateReport(outputs_dir, results, gains, to_match, status, figure, problems)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m al_bench.aggregate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outputs_dir", type=Path, help="the paths.outputs_dir of the runs (holds runs/)")
    ap.add_argument("--runs-dir", type=Path, default=None, help="where the run folders are (default OUTPUTS_DIR/runs)")
    args = ap.parse_args(argv)
    if not args.outputs_dir.is_dir():
        print(f"aggregate: no such folder: {args.outputs_dir}", file=sys.stderr)
        return 2
    report = aggregate(args.outputs_dir, args.runs_dir)
    print(report.summary())
    if not report.results.empty:
        cols = ["dataset", "strategy", "budget", "n_labeled", "accuracy_mean", "gain_mean", "gain_std", "n_seeds"]
        with pd.option_context("display.width", 160, "display.max_rows", 200):
            print(report.gains[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
