"""What fewer optimizer steps cost the linear head: test accuracy of fits with 60 … 300 steps on
uniform labeled sets of several sizes, per seed as a run would split and embed the data. The
fits between budget points (``model.selection_steps``) only choose the next batch; this says
how far such a head is from the 300-step head that budget points are evaluated with.

    .venv/bin/python bench/selection_steps.py                         # digits, pixels
    .venv/bin/python bench/selection_steps.py dataset=npz dataset.path=../shared/datasets/cifar10_subset.npz \\
        embedder=kmeans_patches --sizes 100 460 1150 2300

Prints mean accuracy (%) over seeds per labeled-set size and number of steps; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from _setup import seed_data, settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of the run config (default digits / pixels)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 65, 130, 260, 650])
    ap.add_argument("--steps", type=int, nargs="+", default=[60, 100, 150, 300])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    from al_bench.data import initial_labeled, load_dataset
    from al_bench.heads import HEADS

    s = settings(args.overrides)
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    y = np.asarray(ds.labels)
    head = HEADS.entry(s.model.name)
    acc: dict[tuple[int, int], list[float]] = {}
    for seed in range(args.seeds):
        split, emb = seed_data(s, ds, seed)
        pool, test = np.asarray(split.pool), np.asarray(split.test)
        xp = emb.features[pool]
        for n in args.sizes:
            rows = initial_labeled(len(pool), min(n, len(pool)), seed)
            for steps in args.steps:
                h = head.obj(xp.shape[1], len(ds.class_names), dataclasses.replace(s.model.settings, steps=steps), seed)
                h.fit(xp[rows], y[pool[rows]])
                acc.setdefault((n, steps), []).append(float((h.logits(emb.features[test]).argmax(1) == y[test]).mean()))
    print(f"{ds.name} / {emb.embedder}, {args.seeds} seeds: test accuracy % by labeled-set size (rows) and steps")
    print("| labels | " + " | ".join(f"{k} steps" for k in args.steps) + " |")
    print("|---|" + "---|" * len(args.steps))
    for n in args.sizes:
        print(f"| {n} | " + " | ".join(f"{100 * np.mean(acc[(n, k)]):.1f}" for k in args.steps) + " |")


if __name__ == "__main__":
    main()
