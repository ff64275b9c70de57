"""al-bench-embed: embed a large folder in shards, as jobs on local processes or SLURM, then merge.

    al-bench-embed --images-dir DIR --embedder dinov2_vits14 --shards 64 --launcher slurm \\
                   --slurm-opt slurm_partition=gpu --slurm-opt gpus_per_node=1 --out pool.npz
    al-bench-select --images-dir DIR --features pool.npz -n 1000 --out batch

The folder is scanned as al-bench-select scans it (readable images, sorted ids, the scan
cache). Its images are cut into --shards contiguous shards on batch boundaries; each shard is
one job that writes its own verified cache entry under --cache-dir (the same key, manifest and
checksum rules as any embedding). A rerun embeds only the shards whose entry is missing or
damaged (a cancelled job's, say) and then merges. --out gets the ids and features (.npz,
stored uncompressed so that --features memory-maps it), written only when every shard
verified. Only frozen embedders shard (dinov2_vits14, timm): a fitted one learns from the
whole pool.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ..errors import UserError

__all__ = ["main", "build_parser"]


def _say(msg: str) -> None:
    print(f"al-bench-embed: {msg}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="al-bench-embed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images-dir", type=Path, required=True, help="folder of images (scanned recursively)")
    ap.add_argument("--embedder", default="dinov2_vits14", help="a frozen embedder: dinov2_vits14 (default) or timm")
    ap.add_argument("--embedder-opt", action="append", metavar="KEY=VALUE",
                    help="embedder option, e.g. weights=/path/dinov2.pth, batch_size=64, device=cuda")
    ap.add_argument("--shards", type=int, default=8, help="how many shards (jobs); boundaries fall on batches (default 8)")
    ap.add_argument("--launcher", choices=("local", "slurm"), default="local",
                    help="local: joblib processes on this machine (--jobs at once); slurm: one job per shard "
                         "(a submitit job array)")
    ap.add_argument("--jobs", type=int, default=1, help="local: shards embedded at once (default 1)")
    ap.add_argument("--slurm-opt", action="append", metavar="KEY=VALUE",
                    help="submitit executor parameter, e.g. timeout_min=120, cpus_per_task=8, mem_gb=32, "
                         "slurm_partition=gpu (defaults: timeout_min=60, cpus_per_task=2, mem_gb=8)")
    ap.add_argument("--out", type=Path, required=True, help="the merged pool: .npz with 'ids' and 'features'")
    ap.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                    help="dtype of the merged features (float16 halves the file; default float32)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="embedding and scan cache (default $AL_BENCH_CACHE "
                                                                 "or ~/.cache/al_bench); every job must reach it")
    ap.add_argument("--follow-links", action="store_true", help="also take links leading outside --images-dir")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def run(args: argparse.Namespace) -> Path:
    from ..embedders import EMBEDDERS
    from ..embedders.shards import check_frozen, merge, missing_shards, plan_shards, run_shards
    from ..picking.folder import default_cache_dir, scan_folder
    from .select_flags import check_folder_target, coerce, kv

    check_frozen(args.embedder)
    opts = kv(args.embedder_opt, "--embedder-opt")
    EMBEDDERS.check_options(args.embedder, opts)
    opts = coerce(opts, EMBEDDERS.options(args.embedder), "--embedder-opt")
    slurm = kv(args.slurm_opt, "--slurm-opt")
    if slurm and args.launcher != "slurm":
        raise UserError("--slurm-opt is for --launcher slurm")
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give a number >= 1")
    out = args.out.expanduser()
    if out.suffix.lower() != ".npz":
        raise UserError(f"--out {args.out}: name it .npz (ids and features in one file)")
    check_folder_target("--out", out.parent)
    cache_dir = (args.cache_dir or default_cache_dir()).expanduser().resolve()
    t0 = time.perf_counter()
    scan = scan_folder(args.images_dir, cache_dir, progress=not args.quiet, say=_say,
                       follow_links=args.follow_links)
    ids = list(scan.good)
    _say(f"{len(scan.found)} image file(s) under {scan.root}: {len(ids)} readable, {len(scan.bad)} unreadable "
         f"(left out); checked in {time.perf_counter() - t0:.1f} s ({scan.n_cached} from the scan cache)")
    if not ids:
        raise UserError(f"{scan.root}: no readable images", key="--images-dir")
    batch = int(opts.get("batch_size", EMBEDDERS.options(args.embedder).get("batch_size", 64)))
    plan = plan_shards(scan.root, ids, args.shards, batch)
    todo = missing_shards(plan, args.embedder, opts, cache_dir, _say)
    _say(f"{len(plan)} shard(s) of {batch}-image batches: {len(plan) - len(todo)} already embedded, "
         f"{len(todo)} to embed on {args.launcher}")
    failed = run_shards(scan.root, ids, todo, args.embedder, opts, cache_dir, launcher=args.launcher, jobs=args.jobs,
                        slurm=slurm, say=_say)
    if failed:
        for line in failed:
            _say(f"FAILED {line}")
        raise UserError(f"{len(failed)} of {len(todo)} shard(s) failed; the others are cached. Run the same command "
                        "again: it embeds only what is missing, then merges", key="shards")
    info = merge(plan, ids, args.embedder, opts, cache_dir, out, args.dtype)
    _say(f"wrote {out}: {info['rows']} x {info['dim']} {info['dtype']} (sha256 {info['sha256'][:16]}) in "
         f"{time.perf_counter() - t0:.1f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except UserError as exc:
        flags = {"shards": "--shards", "embedder": "--embedder", "out": "--out"}
        print(f"al-bench-embed: error: {exc.worded(lambda k: flags.get(k, k))}", file=sys.stderr)
        return 2 if exc.key != "shards" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
