"""How much do two strategies' picks overlap on the same round? Prints numbers; asserts nothing.

    .venv/bin/python bench/pick_overlap.py                       # bald vs entropy on digits
    .venv/bin/python bench/pick_overlap.py --dataset npz --path ../shared/datasets/cifar10_subset.npz

Builds the real state of a run (split, pixels embedding, initial set) at the first budget point
of the `standard` schedule after random purchases, fits and calibrates the head, then asks
both strategies for the same batch from the same view.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/selectors.py is named like the standard library's `selectors`: keep this folder off
# the import path, and put the repository root on it
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from al_bench.data import initial_labeled, make_split  # noqa: E402
from al_bench.datasets import load_dataset  # noqa: E402
from al_bench.embed import embed  # noqa: E402
from al_bench.loop import HeadCache, LoopSettings  # noqa: E402
from al_bench.rng import stream  # noqa: E402
from al_bench.strategies import PoolView, select_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--path", default=None)
    ap.add_argument("--a", default="bald")
    ap.add_argument("--b", default="entropy")
    ap.add_argument("--labeled-fraction", type=float, default=0.05)
    ap.add_argument("--batch-fraction", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    ds = load_dataset(args.dataset, **({"path": args.path} if args.path else {}))
    for seed in range(args.seeds):
        split = make_split(ds.labels, seed, 0.2, 0.1, ds.is_test)
        x = embed(ds.images, split.pool, "pixels", ds.fingerprint(), None, seed).features
        P = len(split.pool)
        n_lab, batch = int(round(args.labeled_fraction * P)), max(1, int(round(args.batch_fraction * P)))
        init = initial_labeled(P, 20, seed)
        rest = np.setdiff1d(np.arange(P), init)
        labeled = np.concatenate([init, stream(seed, "overlap").choice(rest, n_lab - init.size, replace=False)])
        y_pool = ds.labels[split.pool]
        head = HeadCache(x[split.pool], y_pool, x[split.calibration], ds.labels[split.calibration],
                         ds.n_classes, LoopSettings(strategy=args.a, seed=seed))
        head.update(labeled)
        view = PoolView(x[split.pool], labeled, np.setdiff1d(np.arange(P), labeled), ds.n_classes, 3, head)
        a, _ = select_batch(args.a, view, batch, np.random.default_rng(seed))
        b, _ = select_batch(args.b, view, batch, np.random.default_rng(seed))
        shared = np.intersect1d(a, b).size
        print(f"{ds.name} seed {seed}: {len(labeled)} labeled, batch {batch}: {args.a} and {args.b} share "
              f"{shared}/{batch} picks ({shared / batch:.0%})")


if __name__ == "__main__":
    main()
