"""Helpers shared by test files: the real entry point as a subprocess, and Hydra composition."""

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")


def main(*args, cwd, timeout=300):
    """``python -m al_bench ARGS`` in ``cwd``; the CompletedProcess (text)."""
    env = {**os.environ, "CI": "1"}
    return subprocess.run([sys.executable, "-m", "al_bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def compose_config(*overrides):
    """The composed config (with Hydra's node) for ``overrides``, as the entry point sees it."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
