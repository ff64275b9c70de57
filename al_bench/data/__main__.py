"""``python -m al_bench.data download-cifar10 DIR``: fetch CIFAR-10, one line either way (setup.sh)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .loaders import cifar10


def main(argv: list[str] | None = None) -> int:
    """``python -m al_bench.data download-cifar10 DIR``: fetch CIFAR-10, one line either way."""
    ap = argparse.ArgumentParser(prog="python -m al_bench.data", description=main.__doc__)
    ap.add_argument("command", choices=["download-cifar10"])
    ap.add_argument("root", type=Path)
    args = ap.parse_args(argv)
    if cifar10.cifar10_present(args.root):
        print(f"setup: CIFAR-10 is at {args.root}")
        return 0
    try:
        cifar10.download_cifar10(args.root)
    except Exception as exc:  # noqa: BLE001 - offline is an expected outcome here
        print(f"setup: offline or download failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); CIFAR-10 "
              f"not fetched. The default dataset=auto falls back to the embedded digits")
        return 1
    print(f"setup: CIFAR-10 downloaded into {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
