"""Benchmark of a whole sweep: every registered strategy × 10 seeds, `standard` budget, 2 runs
at once, on a synthetic CIFAR-10-size pool of cached embeddings. Prints where the time goes;
asserts nothing.

    .venv/bin/python bench/sweep.py                    # 48k pool × 384 dims, 10 classes, 10 seeds, 2 jobs
    .venv/bin/python bench/sweep.py --pool 10000 --seeds 1 --strategies random kcenter
    .venv/bin/python bench/sweep.py --jobs 1              # one run at a time, all threads
    .venv/bin/python bench/sweep.py --strategies kmeans_centroids \
        --variant kmeans_fresh=kmeans_centroids:warm_iters=0   # a strategy with other parameters, as its own row

Each strategy runs with the parameters and random share of its ``al_bench/conf/strategy/*.yaml``
and the linear head with its default settings (``steps`` at budget points, ``selection_steps``
between them), as ``python -m al_bench`` would. A ``--variant LABEL=STRATEGY:KEY=VALUE,...``
runs a strategy with some parameters overridden, reported under LABEL. The mean test accuracy
(± std over seeds) at each budget point is printed per strategy, to compare variants.

The features are a 10-class Gaussian mixture; the split holds 48k pool, 2k calibration and 10k
test items. The linear head reaches 100 % test accuracy on it from the first budget point: the
pool times the sweep, it does not compare strategies (compare accuracies on real data, as
bench/README.md does for kmeans_centroids on the CIFAR-10 subset). The time
is split into head training, calibration, selection and evaluation, as recorded by the loop.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from al_bench.data import Split, initial_labeled
from al_bench.loop import LoopSettings, plan_budget, run_loop
from al_bench.loop.simulate import default_head, default_selection_head
from al_bench.strategies import REGISTRY

CONF = Path(__file__).resolve().parent.parent / "al_bench" / "conf" / "strategy"

STANDARD = dict(fractions=[0.05, 0.10, 0.25, 0.50, 0.75, 1.0], initial=20, batch_size=0.01)


def synthetic(n_pool: int, n_cal: int, n_test: int, d: int = 384, c: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = n_pool + n_cal + n_test
    means = rng.normal(0, 1.0, (c, d)).astype(np.float32) * (3.0 / np.sqrt(2 * d)) * np.sqrt(d) / 4
    y = rng.integers(0, c, n)
    x = means[y] + rng.standard_normal((n, d), dtype=np.float32)
    idx = np.arange(n)
    split = Split(idx[:n_pool], idx[n_pool + n_cal :], idx[n_pool : n_pool + n_cal])
    return x, y, split


def one_run(task, x, y, split, plan) -> dict:
    from omegaconf import OmegaConf

    label, strategy, overrides, seed = task
    conf = OmegaConf.to_container(OmegaConf.load(CONF / f"{strategy}.yaml"))
    t0 = time.perf_counter()
    init = initial_labeled(len(split.pool), plan.initial, seed)
    res = run_loop(x, y, split, tuple(map(str, range(10))), plan, init,
                   LoopSettings(strategy=strategy, seed=seed, random_fraction=conf.get("random_fraction", 0.0),
                                params={**(conf.get("params") or {}), **overrides}, progress=False,
                                make_head=default_head, make_selection_head=default_selection_head))
    last = res.curve[-1]
    return {"strategy": label, "seed": seed, **{f"acc@{r['budget']:g}": r["accuracy"] for r in res.curve},
            "wall": time.perf_counter() - t0, "train": last["train_seconds"],
            "calibration": last["calibration_seconds"], "selection": last["selection_seconds"],
            "evaluation": sum(r["eval_seconds"] for r in res.curve),
            "peak_mb": max(r["selection_peak_mb"] for r in res.curve)}


_STATE: dict = {}


def _init_worker(threads, x, y, split, plan) -> None:
    from al_bench.cli.run import pin_threads

    pin_threads(threads)
    _STATE.update(x=x, y=y, split=split, plan=plan)


def _worker(task) -> dict:
    return one_run(task, _STATE["x"], _STATE["y"], _STATE["split"], _STATE["plan"])


def _report(row: dict) -> dict:
    print(f"  {row['strategy']:<16} seed {row['seed']}: {row['wall']:7.1f} s  (train {row['train']:.1f}, "
          f"selection {row['selection']:.1f})", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=48_000)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--strategies", nargs="*", default=sorted(REGISTRY))
    ap.add_argument("--jobs", type=int, default=2, help="runs at once, each in its own process pinned to "
                                                     "cores // jobs threads (1: serial, all threads)")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=STRATEGY:KEY=VALUE,...",
                    help="also run STRATEGY with these parameters, reported as LABEL (values parsed as YAML)")
    args = ap.parse_args()
    runs = [(s, s, {}) for s in args.strategies]
    for v in args.variant:
        import yaml

        label, _, rest = v.partition("=")
        strategy, _, kv = rest.partition(":")
        if not label or strategy not in REGISTRY:
            ap.error(f"--variant {v!r}: give LABEL=STRATEGY:KEY=VALUE,... with a registered strategy")
        runs.append((label, strategy, {k: yaml.safe_load(val) for k, val in
                                       (item.split("=", 1) for item in kv.split(",") if item)}))
    x, y, split = synthetic(args.pool, 2_000, 10_000)
    plan = plan_budget(len(split.pool), **STANDARD)
    print(f"pool {len(split.pool)}, d {x.shape[1]}, budget points {list(plan.points)}, "
          f"batch {plan.batch_size}, {plan.n_rounds} rounds per run", flush=True)
    slow_first = {"kmeans_centroids": 0, "kcenter": 1, "hybrid": 2, "probcover": 3}  # longest first: the jobs end evenly
    tasks = [(label, strategy, over, seed) for label, strategy, over in sorted(runs, key=lambda r: slow_first.get(r[1], 4))
             for seed in range(args.seeds)]
    rows = []
    t_all = time.perf_counter()
    if args.jobs == 1:
        for task in tasks:
            rows.append(_report(one_run(task, x, y, split, plan)))
    else:
        # N worker processes, each pinned to threads = cores // N (as hydra/launcher=joblib does)
        import multiprocessing as mp
        import os

        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        ctx = mp.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init_worker, initargs=(threads, x, y, split, plan)) as pool:
            for row in pool.imap_unordered(_worker, tasks):
                rows.append(_report(row))
    total = time.perf_counter() - t_all
    df = pd.DataFrame(rows)
    by = df.groupby("strategy")[["wall", "train", "calibration", "selection", "evaluation", "peak_mb"]].sum()
    print("\nseconds summed over seeds:")
    print(by.round(1).to_string())
    accs = [c for c in df.columns if c.startswith("acc@")]
    mean, std = df.groupby("strategy")[accs].mean() * 100, df.groupby("strategy")[accs].std() * 100
    print("\ntest accuracy (%), mean ± std over seeds, at each budget point:")
    print(mean.round(2).astype(str).add(" ± ").add(std.fillna(0).round(2).astype(str)).to_string())
    print(f"\ntotal wall {total:.1f} s ({total / 60:.1f} min); split: train {df['train'].sum():.1f} s, "
          f"calibration {df['calibration'].sum():.1f} s, selection {df['selection'].sum():.1f} s, "
          f"evaluation {df['evaluation'].sum():.1f} s, "
          f"other {total - df[['train', 'calibration', 'selection', 'evaluation']].sum().sum():.1f} s"
          + (f" (with --jobs {args.jobs} the per-run splits overlap in time and add up to more than the wall)"
             if args.jobs > 1 else ""))


if __name__ == "__main__":
    main()
