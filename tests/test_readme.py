"""Every `python -m al_bench …` command in the README composes to a valid config, so the README
cannot rot silently (the smoke sweep and the notebook commands are run by CI itself)."""

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from al_bench.config import parse_settings
from al_bench.hydra_callbacks import plain_config

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("   #")[0].split("  #")[0].strip()
            m = re.search(r"\.venv/bin/python -m al_bench (.*)$", line)
            if m and not line.startswith("#"):
                cmds.append(m.group(1))
    return cmds


def first_job(args):
    """The overrides of a command's first job: -m dropped, sweeps cut to their first value."""
    out = []
    for a in shlex.split(args):
        if a == "-m":
            continue
        key, _, value = a.partition("=")
        if value == "glob(*)":
            value = "random"
        elif "," in value and not value.startswith("["):
            value = value.split(",")[0]
        out.append(f"{key}={value}")
    return out


def test_readme_has_the_commands():
    cmds = readme_commands()
    assert len(cmds) >= 8 and any("experiment=smoke" in c for c in cmds)


@pytest.mark.parametrize("args", readme_commands())
def test_readme_command_composes(args):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=first_job(args), return_hydra_config=True)
    parse_settings(plain_config(cfg))
