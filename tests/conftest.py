"""Shared fixtures: the repository paths and a runner for the real ``snakemake`` on a tiny config.

End-to-end tests run the workflow in a temporary working directory (``snakemake -d``), so they never
touch the clone's own ``results/`` or ``figures/`` and can run in parallel with a real study.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def snakemake(workdir: Path, *args: str, configfile: Path = TINY_CONFIG, check: bool = True,
              timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real workflow (this clone's Snakefile) in ``workdir`` with ``configfile`` merged over the
    embedded default, on 2 cores; returns the completed process (stdout and stderr as text)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "2", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


def tiny_study_config(workdir: Path, study: str) -> tuple[Path, dict]:
    """The tiny config restricted to one study, written to ``workdir/tiny.yaml``: (its path, the config)."""
    import yaml

    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["studies"] = [study]
    configfile = workdir / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return configfile, config


def scheduled_rules(dry_run_stdout: str) -> dict[str, int]:
    """Rule -> job count from the job-stats table that ``snakemake -n`` prints (empty when nothing to do)."""
    counts: dict[str, int] = {}
    in_table = False
    for line in dry_run_stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"}:
                in_table = False
    return counts


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def default_config() -> dict:
    """A fresh copy of the embedded default config (config.yaml)."""
    import yaml

    return yaml.safe_load((REPO / "config.yaml").read_text())


def merged_config(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base`` as Snakemake merges a ``--configfile`` over the default."""
    from snakemake.utils import update_config

    merged = copy.deepcopy(base)
    update_config(merged, copy.deepcopy(over))
    return merged


def check_config(config: dict) -> None:
    """Validate (a copy of) ``config`` as the Snakefile does; raises featurelab.config.ConfigError."""
    from featurelab.config import validate_config

    validate_config(copy.deepcopy(config), SCHEMA)


def mutated_config(path: list, value) -> dict:
    """The default config with the key at ``path`` (e.g. ['complexity', 'training', 'epochs']) set to ``value``."""
    config = default_config()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config
