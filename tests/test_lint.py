"""The workflow is `snakemake --lint` clean and `snakefmt`-formatted (the Snakemake catalog's standards),
and the Python is `ruff` clean (pyflakes rules, configured in pyproject.toml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import REPO

SNAKEFILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]


def test_snakemake_lint_reports_nothing(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--lint",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    lints = json.loads(proc.stdout) if proc.stdout.strip() else {}
    found = [
        f"{entry['for']}: {lint['title']}"
        for kind in ("snakefiles", "rules")
        for entry in lints.get(kind, [])
        for lint in entry["lints"]
    ]
    assert proc.returncode == 0 and not found, "snakemake --lint:\n" + "\n".join(found) + proc.stderr[-2000:]


def test_every_rule_declares_the_conda_env():
    for path in SNAKEFILES[1:]:
        text = path.read_text()
        assert text.count("\nrule ") == text.count("        CONDA_ENV\n"), path.name


def test_snakefiles_are_snakefmt_formatted():
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *map(str, SNAKEFILES)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"snakefmt --check:\n{proc.stdout}{proc.stderr}"


def test_python_is_ruff_clean():
    """Unused and undefined names (pyflakes) fail here, not when a job or test first runs the line."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "scripts", "tests", "benchmarks"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"ruff check:\n{proc.stdout}{proc.stderr}"
