import pytest

"""The walkthrough is a valid jupytext notebook whose code imports only what exists and finds its
configs from any working directory; CI executes it (SMOKE) as a notebook from another folder."""

import ast
import importlib
import importlib.util
from pathlib import Path

import jupytext

NB = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.py"


def test_walkthrough_is_a_jupytext_notebook_with_a_parameters_cell():
    nb = jupytext.read(NB)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and "SMOKE = True" in code[0].source
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 10


def test_every_al_bench_name_the_walkthrough_imports_exists():
    """A moved or renamed library function breaks the notebook here, not in CI's last step."""
    tree = ast.parse(NB.read_text(), str(NB))
    checked = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("al_bench"):
            mod = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(mod, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), \
                    f"walkthrough imports {alias.name} from {node.module}: not there"
                checked += 1
    assert checked >= 5


def test_every_script_the_walkthrough_runs_exists():
    import re

    text = NB.read_text()
    scripts = re.findall(r'ROOT / "(bench|notebooks)" / "([\w.]+\.py)"', text)
    assert scripts, "the walkthrough runs the kernel benchmark"
    for folder, name in scripts:
        assert (NB.parents[1] / folder / name).is_file(), f"walkthrough runs {folder}/{name}: no such file"


@pytest.mark.slow
def test_walkthrough_finds_its_configs_when_executed_as_a_notebook_elsewhere(tmp_path):
    """``jupytext --execute --output /elsewhere/w.ipynb`` runs the kernel in /elsewhere: the set-up
    cells (up to ``settings``) and one composition must work there, with nbconvert's machinery."""
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(NB)
    end = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "def settings(" in c.source)
    nb.cells = [c for c in nb.cells[: end + 1] if c.cell_type == "code"]
    nb.cells.append(nbformat.v4.new_code_cell(
        's, plain = settings("seed=0")\n'
        'assert s.dataset.name in ("npz", "auto") and (ROOT / "bench").is_dir() and (CONF / "config.yaml").is_file()'))
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not list(tmp_path.iterdir()), "composing wrote into the working directory"
