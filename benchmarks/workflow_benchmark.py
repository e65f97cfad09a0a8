"""Benchmark: the whole workflow, as a user waits for it: ``figures/all`` from an empty ``results/``.

    .venv/bin/python benchmarks/workflow_benchmark.py [--runs 2] [--cores 2] [--configfile FILE] [--keep DIR]
                                                      [--reference RESULTS] [--baseline REV]

Each run copies the workflow's tracked files (what a fresh clone has: ``git ls-files``) into a scratch
folder and runs ``python -m snakemake --cores N figures/all --benchmark-extended`` there, from nothing.
It reports, per run and as the median over runs:

* wall time of the Snakemake process and the CPU time (user + sys) of it and every job it ran
  (``getrusage(RUSAGE_CHILDREN)``: jobs are its waited-for descendants);
* the number of jobs, and the CPU seconds per rule, summed over the rule's jobs, from the jobs'
  ``benchmark:`` files (``--benchmark-extended`` writes the rule's name into each), and for the training
  rules, which cannot have one (they are marked for Snakemake's output cache), and the light rules, from
  the CPU time every job logs at its end (``featurelab.scripting.run``: "finished, X CPU-s");
* the start-up share per job kind (training, analysis, figure, ...): the CPU seconds a job spends from
  its process start to its first line of real work, which every job logs (``featurelab.scripting.run``:
  "start-up X CPU-s"; a torch job once more when torch is configured, and the last line counts), summed
  and set against the kind's CPU seconds. CPU, not wall seconds: on a loaded machine a job's wall time
  includes its wait for a core.

With ``--baseline REV`` (a commit, e.g. the code before a speed change) the tracked files of that commit
(``git archive``) run too, interleaved with this clone's (baseline, current, baseline, current, ...:
drift in the machine's speed falls on both alike), and the report gives both side by side, per rule, with
the ratio. Each tree's jobs import the ``src/`` beside its own Snakefile, so the baseline runs its own code.

With ``--keep DIR`` the scratch trees are kept under DIR (``run1/``, ``run2/``), e.g. to compare their
outputs with ``benchmarks/compare_outputs.py`` (``--reference DIR`` does it after every run). The table it prints is the one in the README. Not a test:
the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from compare_outputs import difference, outputs
from timing import FINISHED, STARTUP, run_timed

REPO = Path(__file__).resolve().parents[1]

#: The job kind of a rule, by the suffix of its name (``complexity_train`` -> training).
KINDS = {
    "train": "training",
    "train_tms": "training",
    "classifier": "training",
    "autoencoder": "training",
    "dataset": "data",
    "prepare": "data",
    "figure": "figure",
    "claims": "claims",
    "all": "manifest",
}


def job_kind(rule: str) -> str:
    for suffix, kind in sorted(KINDS.items(), key=lambda kv: -len(kv[0])):
        if rule == suffix or rule.endswith("_" + suffix):
            return kind
    return "analysis"


def scratch_copy(where: Path) -> Path:
    """The tracked files of this clone (its working-tree versions), as a fresh clone would have them."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            target = where / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return where


def archive_copy(where: Path, rev: str) -> Path:
    """The tracked files of commit ``rev``, as a fresh clone of it would have them."""
    where.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def run_once(workdir: Path, cores: int, extra: list[str]) -> dict:
    proc, wall, cpu = run_timed(
        [sys.executable, "-m", "snakemake", "figures/all", "--cores", str(cores), "--benchmark-extended", *extra],
        cwd=workdir,
    )
    (workdir / "snakemake.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"figures/all failed in {workdir} (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", proc.stderr)
    return {"wall_s": wall, "cpu_s": cpu, "jobs": int(steps[-1][1]) if steps else 0, **per_rule(workdir)}


def per_rule(workdir: Path) -> dict:
    """CPU seconds and job counts per rule (benchmark files) and start-up seconds per job kind (logs)."""
    cpu, count = defaultdict(float), defaultdict(int)
    for tsv in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        with tsv.open() as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                cpu[row["rule_name"]] += float(row["cpu_time"])
                count[row["rule_name"]] += 1
    startup, startup_jobs = defaultdict(float), defaultdict(int)
    logged_cpu, logged_count = defaultdict(float), defaultdict(int)
    for log in (workdir / "results" / "logs").rglob("*.log"):
        found = STARTUP.findall(log.read_text(errors="replace"))
        if found:
            rule, seconds = found[-1]
            startup[job_kind(rule)] += float(seconds)
            startup_jobs[job_kind(rule)] += 1
            finished = FINISHED.findall(log.read_text(errors="replace"))
            if finished:
                logged_cpu[rule] += float(finished[-1][1])
                logged_count[rule] += 1
    for rule in logged_cpu:  # rules without benchmark files (the cached training rules, figures, claims)
        if rule not in cpu:
            cpu[rule], count[rule] = logged_cpu[rule], logged_count[rule]
    return {
        "rule_cpu": dict(cpu),
        "rule_jobs": dict(count),
        "startup": dict(startup),
        "startup_jobs": dict(startup_jobs),
        "startup_total_s": sum(startup.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", help="merged over the embedded config.yaml (e.g. tests/configs/tiny.yaml)")
    parser.add_argument("--keep", type=Path, help="keep the scratch trees under this folder")
    parser.add_argument(
        "--reference",
        type=Path,
        help="a results/ folder of an earlier run (e.g. of the code before a speed change): every run's "
        "parquet and npz outputs are compared with it (benchmarks/compare_outputs.py)",
    )
    parser.add_argument("--baseline", help="a commit whose tracked files run too, interleaved (e.g. HEAD~3)")
    args = parser.parse_args()
    extra = [f"--configfile={Path(args.configfile).resolve()}"] if args.configfile else []
    sides = {"baseline": lambda w: archive_copy(w, args.baseline)} if args.baseline else {}
    sides["current"] = scratch_copy

    results: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="featurelab-workflow-") as tmp:
        base = args.keep or Path(tmp)
        for run in range(1, args.runs + 1):
            for side, copy in sides.items():
                workdir = base / (f"run{run}" if len(sides) == 1 else f"{side}{run}")
                if workdir.exists():
                    shutil.rmtree(workdir)
                copy(workdir)
                result = run_once(workdir, args.cores, extra)
                results[side].append(result)
                print(
                    f"{side} run {run}: wall {result['wall_s']:.0f} s, CPU {result['cpu_s']:.0f} s, "
                    f"{result['jobs']} jobs, start-up {result['startup_total_s']:.0f} s over "
                    f"{sum(result['startup_jobs'].values())} jobs",
                    flush=True,
                )
                if args.reference:
                    identical_to(args.reference, workdir / "results")
    for side, side_results in results.items():
        if len(sides) > 1:
            print(f"\n## {side}" + (f" ({args.baseline})" if side == "baseline" else ""))
        report(side_results, args.cores)
    if len(sides) > 1:
        side_by_side(results["baseline"], results["current"])


def side_by_side(baseline: list[dict], current: list[dict]) -> None:
    """Medians of both sides per rule, and current / baseline."""
    med = lambda results, key: statistics.median(r[key] for r in results)  # noqa: E731
    rule_med = lambda results, rule: statistics.median(r["rule_cpu"].get(rule, 0.0) for r in results)  # noqa: E731
    print("\n## side by side (medians)\n\n| | baseline | current | current / baseline |\n|---|---|---|---|")
    for key in ("wall_s", "cpu_s", "jobs", "startup_total_s"):
        old, new = med(baseline, key), med(current, key)
        print(f"| {key} | {old:.0f} | {new:.0f} | {new / old if old else float('nan'):.2f} |")
    rules = sorted({rule for r in baseline + current for rule in r["rule_cpu"]}, key=lambda k: -rule_med(baseline, k))
    print("\n| rule | jobs (baseline / current) | CPU s baseline | CPU s current | ratio |\n|---|---|---|---|---|")
    for rule in rules:
        old, new = rule_med(baseline, rule), rule_med(current, rule)
        jobs = f"{baseline[0]['rule_jobs'].get(rule, 0)} / {current[0]['rule_jobs'].get(rule, 0)}"
        print(f"| {rule} | {jobs} | {old:.1f} | {new:.1f} | {new / old if old else float('nan'):.2f} |")


def identical_to(reference: Path, results: Path) -> None:
    """Print how many of the run's outputs equal the reference's (compare_outputs); list the others."""
    in_ref, in_run = outputs(reference), outputs(results)
    differ = [rel for rel in sorted(in_ref & in_run) if difference(reference / rel, results / rel)]
    print(
        f"  outputs vs {reference}: {len(in_ref & in_run) - len(differ)} of {len(in_ref & in_run)} in both "
        f"identical; {len(in_ref - in_run)} only in the reference, {len(in_run - in_ref)} only in this run",
        flush=True,
    )
    for rel in differ:
        print(f"    differs: {rel}")


def report(results: list[dict], cores: int) -> None:
    med = lambda key: statistics.median(r[key] for r in results)  # noqa: E731
    print(f"\n| what | median of {len(results)} run(s) | runs |\n|---|---|---|")
    for key, label in [
        ("wall_s", f"wall (s, --cores {cores})"),
        ("cpu_s", "CPU, all processes (s)"),
        ("jobs", "jobs"),
        ("startup_total_s", "start-up, all jobs (s)"),
    ]:
        print(f"| {label} | {med(key):.0f} | {' / '.join(f'{r[key]:.0f}' for r in results)} |")
    rules = sorted({rule for r in results for rule in r["rule_cpu"]}, key=lambda k: -results[0]["rule_cpu"].get(k, 0))
    by_kind: dict[str, float] = defaultdict(float)
    print("\n| rule | jobs | CPU s (median over runs) | share |\n|---|---|---|---|")
    total = med("cpu_s")
    for rule in rules:
        cpu = statistics.median(r["rule_cpu"].get(rule, 0.0) for r in results)
        by_kind[job_kind(rule)] += cpu
        print(f"| {rule} | {results[0]['rule_jobs'].get(rule, 0)} | {cpu:.1f} | {100 * cpu / total:.1f} % |")
    print("\n| job kind | jobs | CPU s | start-up s (share of the kind's CPU) |\n|---|---|---|---|")
    for kind, cpu in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        start = statistics.median(r["startup"].get(kind, 0.0) for r in results)
        jobs = results[0]["startup_jobs"].get(kind, 0)
        print(f"| {kind} | {jobs} | {cpu:.0f} | {start:.0f} ({100 * start / cpu if cpu else 0:.0f} %) |")


if __name__ == "__main__":
    main()
