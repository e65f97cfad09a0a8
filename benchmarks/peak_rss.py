"""Largest peak RSS (and longest runtime) per rule from a run's Snakemake benchmark files.

    python benchmarks/peak_rss.py [results/benchmarks]

Reads every ``results/benchmarks/<study>/<step>/...tsv`` (Snakemake's ``benchmark:`` output: ``s``,
``max_rss`` in MB, ...) and prints one Markdown row per rule, largest peak RSS first.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path


def rule_of(path: Path, root: Path) -> str:
    """``complexity/train/linear-vs-xor_xor_xor_seed0.tsv`` -> ``complexity_train``; ``mnist/prepare.tsv``
    -> ``mnist_prepare``."""
    parts = path.relative_to(root).parts
    return "_".join(parts[:2]) if len(parts) > 2 else f"{parts[0]}_{Path(parts[1]).stem}"


def summarize(root: Path) -> list[tuple[str, int, float, float]]:
    rss: dict[str, list[float]] = defaultdict(list)
    secs: dict[str, list[float]] = defaultdict(list)
    for path in sorted(root.rglob("*.tsv")):
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row.get("max_rss") not in (None, "", "NA"):
                    rss[rule_of(path, root)].append(float(row["max_rss"]))
                    secs[rule_of(path, root)].append(float(row["s"]))
    return sorted(((r, len(v), max(v), max(secs[r])) for r, v in rss.items()), key=lambda t: -t[2])


def main(argv: list[str]) -> None:
    root = Path(argv[1] if len(argv) > 1 else "results/benchmarks")
    print("| rule | jobs | largest peak RSS (MB) | longest job (s) |")
    print("|---|---|---|---|")
    for rule, n, peak, longest in summarize(root):
        print(f"| `{rule}` | {n} | {peak:.0f} | {longest:.1f} |")


if __name__ == "__main__":
    main(sys.argv)
