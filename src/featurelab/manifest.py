"""Figure manifests: one row per figure file with its checksum, source table and config hash."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from featurelab.io import read_provenance, write_text

COLUMNS = ("study", "path", "sha256", "source", "config_hash", "git_commit", "git_dirty", "featurelab_version")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_rows(figure_paths: Iterable[str], registry: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for path in figure_paths:
        entry = registry[str(Path(path).with_suffix(""))]
        source = read_provenance(entry["source"])
        rows.append(
            {
                "study": entry["study"],
                "path": str(path),
                "sha256": sha256_file(path),
                "source": entry["source"],
                "config_hash": entry["config_hash"],
                "git_commit": source.get("git_commit", "unknown"),
                "git_dirty": source.get("git_dirty", "unknown"),
                "featurelab_version": source.get("featurelab_version", "unknown"),
            }
        )
    return rows


def write_manifest(rows: list[dict[str, str]], path: str | Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(buf.getvalue(), path)


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))
