"""The walkthrough is a valid jupytext notebook with a parameters cell and every section; CI
executes it (SMOKE) as a script."""

from pathlib import Path

import jupytext

NB = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.py"


def test_walkthrough_is_a_jupytext_notebook_with_all_sections():
    nb = jupytext.read(NB)
    code = [c for c in nb.cells if c.cell_type == "code"]
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "parameters" in code[0].metadata.get("tags", []) and "SMOKE = True" in code[0].source
    for n in range(1, 12):
        assert f"## {n}." in md, n
    for part in "abcde":
        assert f"### ({part})" in md, part
    compile(NB.read_text(), str(NB), "exec")
