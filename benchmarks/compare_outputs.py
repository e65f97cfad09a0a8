"""Are two results trees the same science? Every parquet table (its data, not the provenance metadata, which
names the code version and time) and every npz array (but ``_provenance``) of tree A against tree B.

    .venv/bin/python benchmarks/compare_outputs.py RESULTS_A RESULTS_B

How to show that a change meant to move no number (a speed-up, a refactoring) moved none: run the default
``figures/all`` before and after it (``benchmarks/workflow_benchmark.py --keep DIR`` keeps the trees) and
compare their ``results/``. Logs and benchmark files are skipped. A file only one tree has is reported (an output a change removed or
added on purpose, e.g. a step folded into another, shows up here by name). Exit status 1 when a file
present in both differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from featurelab.io import NPZ_PROVENANCE

SKIPPED_FOLDERS = {"logs", "benchmarks"}


def outputs(tree: Path) -> set[Path]:
    """The parquet and npz files under ``tree``, relative to it."""
    return {
        path.relative_to(tree)
        for path in tree.rglob("*")
        if path.suffix in (".parquet", ".npz") and not SKIPPED_FOLDERS & set(path.relative_to(tree).parts)
    }


def difference(a: Path, b: Path) -> str | None:
    """Why file ``a`` differs from ``b``, or None when their data are equal."""
    if a.suffix == ".parquet":
        ta, tb = (pq.read_table(p).replace_schema_metadata(None) for p in (a, b))
        if ta.equals(tb):
            return None
        if ta.schema != tb.schema:
            return f"schemas differ: {ta.schema} vs {tb.schema}"
        if ta.num_rows != tb.num_rows:
            return f"{ta.num_rows} vs {tb.num_rows} rows"
        return f"columns differ: {[c for c in ta.column_names if not ta[c].equals(tb[c])]}"
    with np.load(a, allow_pickle=False) as fa, np.load(b, allow_pickle=False) as fb:
        ka, kb = (sorted(k for k in f.files if k != NPZ_PROVENANCE) for f in (fa, fb))
        if ka != kb:
            return f"arrays {ka} vs {kb}"
        differing = [k for k in ka if not np.array_equal(fa[k], fb[k])]
        return f"arrays differ: {differing}" if differing else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="results/ of one run")
    parser.add_argument("b", type=Path, help="results/ of the other")
    args = parser.parse_args()
    in_a, in_b = outputs(args.a), outputs(args.b)
    differ = {rel: why for rel in sorted(in_a & in_b) if (why := difference(args.a / rel, args.b / rel))}
    print(
        f"{len(in_a & in_b)} outputs in both: {len(in_a & in_b) - len(differ)} identical, {len(differ)} differ; "
        f"{len(in_a - in_b)} only in A, {len(in_b - in_a)} only in B"
    )
    for rel, why in differ.items():
        print(f"  differs: {rel}: {why}")
    for rel in sorted(in_a - in_b):
        print(f"  only in A: {rel}")
    for rel in sorted(in_b - in_a):
        print(f"  only in B: {rel}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
