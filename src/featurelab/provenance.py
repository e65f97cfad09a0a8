"""What made an output: the config sub-tree, the code version and the library versions.

Every parquet, checkpoint and figure manifest carries this record, so a file found on disk months later
says which settings and which commit produced it. Nothing here imports heavy libraries: versions are
read from package metadata, not by importing the packages.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from featurelab import __version__

#: Libraries whose versions can change numbers in the results.
TRACKED_LIBRARIES = ("torch", "numpy", "pyarrow", "pandas", "scikit-learn", "matplotlib", "seaborn", "snakemake")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal configs give equal strings, hence equal hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(config: Any) -> str:
    """Short, stable hash of a config sub-tree (used in file metadata and the figure manifest)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


@functools.cache
def git_state() -> dict[str, str]:
    """Commit of the featurelab source tree and whether tracked files differ from it.

    Looked up next to the package source, not in the working directory, because the workflow may run
    in any folder (a scratch directory, a cluster node) while the code lives in the clone.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": "dirty" if dirty else "clean"}


@functools.cache
def library_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(config: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """The provenance record stored with an output. ``config`` is the sub-tree the output depends on."""
    return {
        "featurelab_version": __version__,
        **git_state(),
        "libraries": library_versions(),
        "config": config,
        "config_hash": config_hash(config),
        **extra,
    }
