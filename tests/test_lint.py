"""The workflow is `snakemake --lint` clean and `snakefmt`-formatted (the Snakemake catalog's standards),
and the Python is `ruff` clean and `ruff format`ted (the rules and the reasons for those left out are in
pyproject.toml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

#: Both entry points (the root's Snakefile includes workflow/Snakefile, the catalog's layout) and the rules.
ENTRY_POINTS = [REPO / "Snakefile", REPO / "workflow" / "Snakefile"]
SNAKEFILES = [*ENTRY_POINTS, *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
PYTHON = ["src", "scripts", "tests", "benchmarks"]


def _module(*args: str) -> subprocess.CompletedProcess:
    """``python -m <args>`` in the repository, without CUDA, output captured."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


@pytest.mark.parametrize("snakefile", ENTRY_POINTS, ids=lambda p: str(p.relative_to(REPO)))
def test_snakemake_lint_reports_nothing(snakefile, tmp_path):
    proc = _module("snakemake", "--snakefile", str(snakefile), "--directory", str(tmp_path), "--lint", "json")
    lints = json.loads(proc.stdout) if proc.stdout.strip() else {}
    found = [
        f"{entry['for']}: {lint['title']}"
        for kind in ("snakefiles", "rules")
        for entry in lints.get(kind, [])
        for lint in entry["lints"]
    ]
    assert proc.returncode == 0 and not found, "snakemake --lint:\n" + "\n".join(found) + proc.stderr[-2000:]


def test_every_rule_declares_the_conda_env():
    for path in SNAKEFILES[len(ENTRY_POINTS) :]:
        text = path.read_text()
        assert text.count("\nrule ") == text.count("        CONDA_ENV\n"), path.name


def test_snakefiles_are_snakefmt_formatted():
    proc = _module("snakefmt", "--check", *map(str, SNAKEFILES))
    assert proc.returncode == 0, f"snakefmt --check:\n{proc.stdout}{proc.stderr}"


def test_python_is_ruff_clean():
    """Pyflakes, import order, pyupgrade and bugbear: a likely bug fails here, not when a job or test first
    runs the line."""
    proc = _module("ruff", "check", "--no-cache", *PYTHON)
    assert proc.returncode == 0, f"ruff check:\n{proc.stdout}{proc.stderr}"


def test_python_is_ruff_formatted():
    """One formatter for all Python: `ruff format` (pyproject.toml [tool.ruff.format])."""
    proc = _module("ruff", "format", "--check", "--no-cache", *PYTHON)
    assert proc.returncode == 0, f"ruff format --check:\n{proc.stdout}{proc.stderr}"
