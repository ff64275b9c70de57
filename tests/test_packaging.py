"""A built wheel, installed into a fresh venv outside the checkout, runs ``python -m al_bench`` and
``al-bench`` from the configs it ships, and still takes a user's own config dir (``--config-dir``).

Slow tier (builds a wheel, makes a venv, runs one tiny job). Nothing is downloaded: the wheel is
built with ``--no-build-isolation --no-index`` from this venv's setuptools, installed with
``--no-deps``, and the fresh venv (``--without-pip``) reaches this venv's third-party packages
(torch, hydra, ...) through one ``.pth`` file listing this venv's site-packages. A ``.pth`` line
only appends that folder to ``sys.path``; the ``.pth`` files inside it (among them the editable
install's finder that points at this checkout) are not processed, so ``al_bench`` can only come
from the wheel, which the test checks.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _sh(*cmd, cwd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["CI"] = "1"
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """(python, al-bench script, a working folder outside the checkout) of a venv holding only the wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # build from a copy: no build/ or egg-info left in the checkout
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("al_bench", "hydra_plugins"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    _sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", tmp / "dist", src, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("al_bench-*.whl")

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # install before the .pth exists, so pip sees an empty venv (never this venv's editable al_bench)
    _sh(sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps", "--no-index", wheel, cwd=tmp)
    site = Path(_sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).strip())
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_al_bench_test_deps.pth").write_text("".join(f"{p}\n" for p in ours))
    work = tmp / "work"
    work.mkdir()
    return py, env_dir / "bin" / "al-bench", work


def test_the_wheel_ships_the_configs_and_is_the_al_bench_imported(fresh):
    py, _, work = fresh
    where = _sh(py, "-c", "import al_bench, hydra_plugins.al_bench_sweeper as s; print(al_bench.__file__); "
                "print(s.__file__)", cwd=work).split()
    venv_dir = py.parents[1]
    assert all(Path(w).is_relative_to(venv_dir) for w in where), f"imported from outside the wheel: {where}"
    conf = Path(where[0]).parent / "conf"
    for group in ("dataset", "embedder", "model", "strategy", "budget", "experiment", "hydra/launcher"):
        assert list((conf / group).glob("*.yaml")), f"the wheel lacks conf/{group}/*.yaml"
    assert (conf / "config.yaml").is_file()


def test_python_m_al_bench_composes_from_the_shipped_configs(fresh):
    py, _, work = fresh
    out = _sh(py, "-m", "al_bench", "--cfg", "job", "experiment=smoke", cwd=work)
    assert "name: digits" in out and "name: pixels" in out


def test_console_script_runs_a_job_with_a_user_config_dir(fresh):
    """``al-bench --config-dir MINE``: the user's own group option (budget/tiny, extending the shipped
    budget/smoke) is found next to the shipped ones, and a job runs with it."""
    _, script, work = fresh
    mine = work / "mine" / "budget"
    mine.mkdir(parents=True)
    (mine / "tiny.yaml").write_text("defaults:\n  - smoke\n  - _self_\nname: tiny\nfractions: [0.05, 0.10]\n")
    _sh(script, "--config-dir", work / "mine", "budget=tiny", "dataset=digits", "embedder=pixels",
        "strategy=random", "seed=0", "threads=1", "paths.outputs_dir=out", "paths.data_dir=data", cwd=work)
    curves = list((work / "out" / "runs").rglob("curve.csv"))
    assert len(curves) == 1, f"expected one finished run under {work / 'out' / 'runs'}"
    assert "tiny" in curves[0].relative_to(work / "out").parts
    assert sorted(set(pd.read_csv(curves[0])["budget"])) == [0.05, 0.1]
