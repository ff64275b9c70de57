"""The README cannot rot silently: every `python -m al_bench …` command composes to a valid
config, every other module or script it runs exists, and every console script it names is
declared and importable (the smoke sweep and the notebook are run by CI itself)."""

import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import tomllib

from al_bench.cli.run import plain_config
from al_bench.config import parse_settings
from support import compose_config

ROOT = Path(__file__).resolve().parents[1]


def _lines():
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.split("   #")[0].split("  #")[0].strip()
            if line and not line.startswith("#"):
                yield line


def readme_commands():
    return [m.group(1) for line in _lines() if (m := re.search(r"\.venv/bin/python -m al_bench (.*)$", line))]


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


def test_readme_modules_scripts_and_console_scripts_exist():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    modules, files, commands = set(), set(), set()
    for line in _lines():
        modules.update(re.findall(r"python -m ([\w.]+)", line))
        files.update(re.findall(r"python ((?:bench|notebooks)/[\w./-]+\.py)", line))
        commands.update(c for c in re.findall(r"(?:^|&&\s*|\|\s*)(al-bench-[\w-]+)", line))
    assert "al_bench" in modules and "al-bench-select" in commands  # the parser still finds the commands
    for mod in sorted(modules - {"pytest"}):
        assert importlib.util.find_spec(mod) is not None, f"README runs python -m {mod}: no such module"
    for f in sorted(files):
        assert (ROOT / f).is_file(), f"README runs {f}: no such file"
    for cmd in sorted(commands):
        assert cmd in scripts, f"README uses {cmd}: not a console script in pyproject.toml"
        mod, func = scripts[cmd].split(":")
        assert callable(getattr(importlib.import_module(mod), func))


@pytest.mark.parametrize("args", readme_commands())
def test_readme_command_composes(args):
    parse_settings(plain_config(compose_config(*first_job(args))))
