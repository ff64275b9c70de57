"""What an initial labeled set is worth on its own: test accuracy of the head trained on the
initial set alone (``--size`` labels), picked uniformly or by a feature-only strategy, on raw
or L2-normalized embeddings, over ``--seeds`` seeds (split, embedding and head per seed, as a
run does), with the paired gain over the uniform set and the number of classes it covers.

    .venv/bin/python bench/cold_start.py dataset=npz dataset.path=../shared/datasets/cifar10_subset.npz \\
        embedder=kmeans_patches --size 10 --seeds 10
"""

from __future__ import annotations

import argparse

import numpy as np

STRATEGIES = ("typiclust", "probcover", "kmeans_centroids")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m al_bench")
    ap.add_argument("--size", type=int, default=10, help="labels in the initial set")
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()

    from _setup import seed_data, settings

    from al_bench.data import initial_labeled, load_dataset
    from al_bench.heads import HEADS
    from al_bench.rng import stream
    from al_bench.strategies import PoolView, run_strategy

    s = settings(args.overrides)
    ds = load_dataset(s.dataset.name, s.data_dir, **s.dataset.options)
    y = np.asarray(ds.labels)
    n_classes = len(ds.class_names)
    head = HEADS.entry(s.model.name)
    results: dict[str, list[tuple[float, int]]] = {}
    for seed in range(args.seeds):
        split, emb = seed_data(s, ds, seed)
        pool, test = np.asarray(split.pool), np.asarray(split.test)
        xp = np.ascontiguousarray(emb.features[pool], np.float32)
        xn = np.ascontiguousarray(xp / np.maximum(np.linalg.norm(xp, axis=1, keepdims=True), 1e-12), np.float32)
        sets = {"uniform": initial_labeled(len(pool), args.size, seed)}
        for name in STRATEGIES:
            for tag, feats in (("", xp), ("+l2", xn)):
                view = PoolView(feats, np.empty(0, np.int64), np.arange(len(pool), dtype=np.int64), n_classes, 0)
                sets[name + tag] = np.sort(run_strategy(name, view, args.size, stream(seed, "initial", name))[0])
        for name, rows in sets.items():
            h = head.obj(xp.shape[1], n_classes, s.model.settings, seed).fit(xp[rows], y[pool[rows]])
            acc = float((h.predict_proba(emb.features[test]).argmax(1) == y[test]).mean())
            results.setdefault(name, []).append((acc, len(set(y[pool[rows]].tolist()))))
    base = np.array([a for a, _ in results["uniform"]])
    print(f"{ds.name} / {emb.embedder}: {args.size} labels, {args.seeds} seeds")
    print("| initial set | accuracy % | gain over uniform pp (sd) | classes covered |")
    print("|---|---|---|---|")
    for name, v in results.items():
        acc = np.array([a for a, _ in v])
        d = 100 * (acc - base)
        print(f"| {name} | {100 * acc.mean():.1f} | {d.mean():+.1f} ({d.std(ddof=1) if len(d) > 1 else 0:.1f}) | "
              f"{np.mean([c for _, c in v]):.1f} / {n_classes} |")


if __name__ == "__main__":
    main()
