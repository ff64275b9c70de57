"""Every strategy module can be the first one imported (a user's ``from al_bench.strategies.X
import X``): a module that imports another at its top must not see it half-initialized."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import al_bench.strategies as strategies

SCRIPT = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for key in [k for k in sys.modules if k == "al_bench" or k.startswith("al_bench.")]:
        del sys.modules[key]  # a fresh package each time, as in a new interpreter
    try:
        importlib.import_module("al_bench.strategies." + name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.slow  # the default tier's time (README, Tests); CI runs it with -m slow
def test_each_strategy_module_imports_first():
    names = sorted(p.stem for p in Path(strategies.__file__).parent.glob("*.py") if not p.stem.startswith("_"))
    assert "tcm" in names and "typiclust" in names
    out = subprocess.run([sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
