"""How long ``snakemake -n figures/all`` takes on an up-to-date tree (the target: <= 3 s wall on 2 cores).

    PYTHONPATH=src python benchmarks/dry_run_benchmark.py --directory .            # the clone, after a run
    PYTHONPATH=src python benchmarks/dry_run_benchmark.py --synthetic              # default config
    PYTHONPATH=src python benchmarks/dry_run_benchmark.py --synthetic --configfile tests/configs/tiny.yaml

``--directory DIR`` times a tree the workflow built (for example the clone after the README's
``snakemake --cores 8 figures/all``). ``--synthetic`` makes one in a temporary folder: every output of the
DAG is created as an empty file and ``snakemake --touch`` records it in Snakemake's metadata as made by
the current code and config, so the dry run sees an up-to-date tree without hours of computing. Building
the DAG reads no output's contents (only existence, modification times and metadata), so the timing is a
real tree's; to check that, time a real tiny tree and a synthetic one (``--configfile
tests/configs/tiny.yaml`` both times) and compare.

Each repeat runs the dry run in a fresh process, as a user does, and records wall seconds and the CPU
seconds of the process (user + sys); the first repeat also fills the workflow's caches under
``.snakemake/featurelab`` (code hashes, validated config), as any earlier run would have. Snakemake's own
start-up is timed the same way on a one-rule Snakefile with nothing to do, to tell the workflow's share
from Snakemake's. The script fails when the dry run has anything to do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import run_timed

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args: str, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``python -m snakemake *args``: (process, wall seconds, CPU seconds of the child)."""
    return run_timed(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")},
    )


def workflow_args(directory: Path, configfiles: list[str]) -> list[str]:
    args = ["--snakefile", str(REPO / "Snakefile"), "--directory", str(directory), "--cores", "2"]
    return args + (["--configfile", *configfiles] if configfiles else [])


def check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        sys.exit(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def synthetic_tree(directory: Path, configfiles: list[str], target: str) -> int:
    """Every output of ``target``'s DAG as an empty file, recorded by ``snakemake --touch``; the job count."""
    proc, _, _ = snakemake(target, "--summary", *workflow_args(directory, configfiles))
    check(proc, "snakemake --summary")
    rows = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    outputs = [row[0] for row in rows[1:]]
    for name in outputs:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    proc, _, _ = snakemake(target, "--touch", *workflow_args(directory, configfiles))
    check(proc, "snakemake --touch")
    return len(outputs)


def startup_floor(directory: Path) -> list[str]:
    """A one-rule workflow with nothing to do: what any ``snakemake -n`` costs here."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Snakefile").write_text(
        'rule all:\n    input:\n        "done.txt",\n\n\n'
        'rule done:\n    output:\n        "done.txt",\n'
        '    shell:\n        "touch {output}"\n'
    )
    (directory / "done.txt").touch()
    return ["--snakefile", str(directory / "Snakefile"), "--directory", str(directory), "--cores", "2", "-n"]


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, min {min(values):.2f} s, max {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--directory", type=Path, help="an up-to-date tree the workflow built")
    where.add_argument("--synthetic", action="store_true", help="make an up-to-date tree of empty outputs")
    parser.add_argument("--configfile", nargs="+", default=[], help="as given to snakemake (default: none)")
    parser.add_argument("--target", default="figures/all")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="dry_run_benchmark_"))
    try:
        directory = args.directory.resolve() if args.directory else scratch / "tree"
        if args.synthetic:
            directory.mkdir()
            n = synthetic_tree(directory, args.configfile, args.target)
            print(f"synthetic tree: {n} outputs in {directory}")
        dry = [args.target, "-n", *workflow_args(directory, args.configfile)]
        floor = startup_floor(scratch / "floor")
        rows = {"workflow": ([], []), "snakemake start-up": ([], [])}
        for repeat in range(args.repeats):
            proc, wall, cpu = snakemake(*dry)
            check(proc, "snakemake -n")
            if "Nothing to be done" not in proc.stdout + proc.stderr:
                sys.exit(f"the tree is not up to date: the dry run has jobs to run:\n{proc.stdout[-3000:]}")
            rows["workflow"][0].append(wall)
            rows["workflow"][1].append(cpu)
            proc, wall, cpu = snakemake(*floor)
            check(proc, "snakemake -n (one-rule workflow)")
            rows["snakemake start-up"][0].append(wall)
            rows["snakemake start-up"][1].append(cpu)
            print(
                f"repeat {repeat + 1}: dry run {rows['workflow'][0][-1]:.2f} s wall, "
                f"{rows['workflow'][1][-1]:.2f} s CPU; one-rule workflow {wall:.2f} s wall, {cpu:.2f} s CPU"
            )
        load = os.getloadavg()
        print(
            f"\n`snakemake -n {args.target}` on an up-to-date tree ({args.repeats} repeats, "
            f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}):"
        )
        for name, (walls, cpus) in rows.items():
            print(f"  {name:<20} wall {summary(walls)}; CPU {summary(cpus)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
