"""Helpers shared by test files: the real entry point as a subprocess, and Hydra composition."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "al_bench" / "conf")


def main(*args, cwd, timeout=300):
    """``python -m al_bench ARGS`` in ``cwd``; the CompletedProcess (text)."""
    env = {**os.environ, "CI": "1"}
    return subprocess.run([sys.executable, "-m", "al_bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def compose_config(*overrides):
    """The composed config (with Hydra's node) for ``overrides``, as the entry point sees it."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def brute_kcenter(x, labeled, n):
    """Reference: float64 difference-form distances to every center, exact ties to the lowest index."""
    x = x.astype(np.float64)
    centers = [int(c) for c in labeled]
    md = np.full(len(x), np.inf)
    for c in centers:
        md = np.minimum(md, ((x - x[c]) ** 2).sum(-1))
    picks = []
    for _ in range(n):
        md[centers] = -1
        j = int(np.flatnonzero(md == md.max())[0])
        picks.append(j)
        centers.append(j)
        md = np.minimum(md, ((x - x[j]) ** 2).sum(-1))
    return picks


def one_run(out, prefix: str) -> Path:
    """The run folder ``<out>/runs/<prefix>-<config id>`` (prefix ends in ``seed<k>``); exactly one."""
    found = sorted((Path(out) / "runs").glob(prefix + "-*"))
    assert len(found) == 1, f"expected one run folder {prefix}-<config id>, found {found}"
    return found[0]
