"""How much do two strategies' picks overlap on the same round? Prints numbers; asserts nothing.

    .venv/bin/python bench/pick_overlap.py                       # bald vs entropy on digits
    .venv/bin/python bench/pick_overlap.py --dataset npz --path ../shared/datasets/cifar10_subset.npz

Builds the real state of a run (split, embedding, initial set; al_bench.analysis.pick_overlap) at the first budget point
of the `standard` schedule after random purchases, fits and calibrates the head, then asks
both strategies for the same batch from the same view.
"""

from __future__ import annotations

import argparse

from al_bench.analysis import pick_overlap
from al_bench.data import load_dataset, make_split
from al_bench.embedders import embed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--path", default=None)
    ap.add_argument("--embedder", default="pixels")
    ap.add_argument("--a", default="bald")
    ap.add_argument("--b", default="entropy")
    ap.add_argument("--labeled-fraction", type=float, default=0.05)
    ap.add_argument("--batch-fraction", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    ds = load_dataset(args.dataset, **({"path": args.path} if args.path else {}))
    for seed in range(args.seeds):
        split = make_split(ds.labels, seed, 0.2, 0.1, ds.is_test)
        x = embed(ds.images, split.pool, args.embedder, ds.fingerprint(), None, seed).features
        r = pick_overlap(x, ds.labels, split, ds.n_classes, args.a, args.b, seed, args.labeled_fraction,
                         args.batch_fraction)
        print(f"{ds.name} seed {seed}: {r['n_labeled']} labeled, batch {r['batch']}: {args.a} and {args.b} share "
              f"{r['shared']}/{r['batch']} picks ({r['shared'] / r['batch']:.0%})")

if __name__ == "__main__":
    main()
