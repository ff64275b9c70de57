"""Evaluation noise floor: how much does test accuracy move when the *same* labeled set is fit
again, only with its rows in another order (or with another head seed)?

A gain between strategies smaller than this is noise in the evaluation, not a difference in
what they picked. Features and split come from the same config a run uses (Hydra overrides on
the command line, e.g. the CIFAR-10 subset with ``kmeans_patches``); labeled sets are uniform
draws from the pool, fit with the configured head.

    .venv/bin/python bench/eval_noise.py                                   # digits / pixels
    .venv/bin/python bench/eval_noise.py dataset=npz dataset.path=../shared/datasets/cifar10_subset.npz \\
        embedder=kmeans_patches --sets 20 --orders 3 --sizes 10 50 200 1000

For each size: over ``--sets`` labeled sets, the spread (max − min) of test accuracy across the
set's row orders (the pool order and ``--orders`` random permutations), in percentage points:
mean and max over sets, and the same for head seeds (pool order, seeds 0..orders−1).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m al_bench")
    ap.add_argument("--sets", type=int, default=20)
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 65, 130, 259])
    args = ap.parse_args()

    from _setup import seed_data, settings

    from al_bench.data import load_dataset
    from al_bench.heads import HEADS

    s = settings(args.overrides)
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    split, emb = seed_data(s, ds, s.seed)
    x = emb.features
    pool, test = np.asarray(split.pool), np.asarray(split.test)
    y = np.asarray(ds.labels)
    head = HEADS.entry(s.model.name)
    if head.inputs != "features":
        sys.exit("this benchmark fits heads on features (model=linear)")
    n_classes = len(ds.class_names)

    def accuracy(rows: np.ndarray, seed: int) -> float:
        h = head.obj(x.shape[1], n_classes, s.model.settings, seed).fit(x[pool[rows]], y[pool[rows]])
        return float((h.predict_proba(x[test]).argmax(1) == y[test]).mean())

    rng = np.random.default_rng(12345)
    print(f"{ds.name} / {emb.embedder} / {s.model.name}: pool {len(pool)}, test {len(test)}, "
          f"{args.sets} sets x ({args.orders} permutations | {args.orders} seeds)")
    print("| labeled | order spread mean pp | order spread max pp | seed spread mean pp | seed spread max pp |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        order_spread, seed_spread = [], []
        for _ in range(args.sets):
            rows = np.sort(rng.choice(len(pool), size=min(n, len(pool)), replace=False))
            by_order = [accuracy(rows, 0)] + [accuracy(rng.permutation(rows), 0) for _ in range(args.orders)]
            by_seed = [accuracy(rows, k) for k in range(args.orders)]
            order_spread.append(100 * (max(by_order) - min(by_order)))
            seed_spread.append(100 * (max(by_seed) - min(by_seed)))
        print(f"| {n} | {np.mean(order_spread):.2f} | {np.max(order_spread):.2f} | {np.mean(seed_spread):.2f} | "
              f"{np.max(seed_spread):.2f} |", flush=True)


if __name__ == "__main__":
    main()
