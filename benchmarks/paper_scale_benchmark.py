"""CPU cost of config/full.yaml, measured on one seed of each study and scaled to the full seed count.

    PYTHONPATH=src python benchmarks/paper_scale_benchmark.py [--studies complexity hierarchy ...]
        [--dissociation-epochs 2] [--out results.json]

For each study it runs ``snakemake figures/<study>/all --cores 2`` in a scratch folder with
config/full.yaml and every seed list cut to its first seed, and records the CPU seconds of all jobs
(user + sys of the snakemake process tree) and the wall time. It then scales each rule to the job count
of the real paper-scale DAG (``snakemake -n`` with config/full.yaml): a rule whose jobs are one per seed
costs seeds times as much. Per rule, CPU comes from the rule's ``benchmark:`` files where it has them,
and the remaining CPU of the run is spread over the other jobs evenly (they are seconds each).

Two departures from the real run, both for timing only:
- MNIST: full MNIST is a download, and timing must not need the network. The MNIST studies read random
  images of MNIST's exact shape (60,000 train / 10,000 test, written as IDX files, ``verify: false``).
  No rule's cost depends on pixel values (no early stopping in those studies).
- dissociation trains ``--dissociation-epochs`` epochs instead of 30; its training CPU is multiplied by
  30 / that (the cost per epoch is constant: same data, same batches, fixed learning-rate schedule).

The result is an estimate of the full run's CPU seconds per study; on 2 cores the wall time is at best
half of it (every job is single-threaded except dissociation's, which uses its configured 4 threads).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import scheduled_rules  # noqa: E402

STUDIES = ["complexity", "hierarchy", "dissociation", "superposition", "learnability"]


def fake_mnist(folder: Path) -> None:
    """Random IDX files with MNIST's shapes (timing only: the pixel values do not matter)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for subset, n in (("train", 60000), ("t10k", 10000)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        (folder / f"{subset}-images-idx3-ubyte").write_bytes(
            np.array([2051, n, 28, 28], dtype=">i4").tobytes() + images.tobytes()
        )
        (folder / f"{subset}-labels-idx1-ubyte").write_bytes(
            np.array([2049, n], dtype=">i4").tobytes() + labels.tobytes()
        )


def one_seed(config: dict) -> dict:
    """Every ``seeds`` list in ``config`` cut to its first element."""
    out = {}
    for key, value in config.items():
        if key == "seeds" and isinstance(value, list):
            out[key] = value[:1]
        elif isinstance(value, dict):
            out[key] = one_seed(value)
        else:
            out[key] = value
    return out


def snakemake(workdir: Path, *args: str, check: bool = True) -> tuple[subprocess.CompletedProcess, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if check and proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc, wall, cpu


def benchmark_cpu(folder: Path) -> dict[str, list[float]]:
    """rule -> CPU seconds of each of its jobs, from Snakemake's benchmark files under ``folder``."""
    per_rule: dict[str, list[float]] = {}
    for path in folder.rglob("*.tsv"):
        rows = list(csv.DictReader(path.open(), delimiter="\t"))
        rel = path.relative_to(folder).parts  # <study>/<step>/<job>.tsv or <study>/<step>.tsv
        rule = f"{rel[0]}_{rel[1] if len(rel) > 2 else Path(rel[1]).stem}"
        per_rule.setdefault(rule, []).append(float(rows[-1]["cpu_time"]))
    return per_rule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", nargs="+", default=STUDIES, choices=STUDIES)
    parser.add_argument("--dissociation-epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    full = yaml.safe_load((REPO / "config" / "full.yaml").read_text())
    scratch = Path(tempfile.mkdtemp(prefix="paper_scale_"))
    fake_mnist(scratch / "mnist")
    measured = one_seed(full)
    measured["mnist"] = {
        "source": "idx",
        "path": str(scratch / "mnist"),
        "verify": False,
        "split": "native",
        "subsets": ["train", "t10k"],
    }
    epochs_full = full["dissociation"]["training"]["epochs"]
    measured["dissociation"]["training"]["epochs"] = args.dissociation_epochs
    (scratch / "measured.yaml").write_text(yaml.safe_dump(measured))
    (scratch / "full.yaml").write_text(yaml.safe_dump({**full, "mnist": measured["mnist"]}))
    results = {}
    for study in args.studies:
        work = scratch / study
        target = f"figures/{study}/all"
        jobs_full = scheduled_rules(
            snakemake(work, target, "-n", "--cores", "2", "--configfile", str(scratch / "full.yaml"))[0].stdout
        )
        proc, wall, cpu = snakemake(
            work, target, "--cores", "2", "--configfile", str(scratch / "measured.yaml"), check=False
        )
        jobs_run = Counter(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, flags=re.M))
        failed = sorted(set(re.findall(r"^Error in rule (\w+):", proc.stdout + proc.stderr, flags=re.M)))
        if proc.returncode != 0 and not failed:
            sys.exit(f"snakemake {target} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        bench = benchmark_cpu(work / "results" / "benchmarks")
        bench = {rule: cpus for rule, cpus in bench.items() if rule in jobs_run}
        light = {rule: n for rule, n in jobs_run.items() if rule not in bench}
        light_cpu = max(0.0, cpu - sum(sum(c) for c in bench.values())) / max(1, sum(light.values()))
        estimate = {}
        for rule, n_full in jobs_full.items():
            per_job = (sum(bench[rule]) / len(bench[rule])) if rule in bench else light_cpu
            if rule == "dissociation_train":
                per_job *= epochs_full / args.dissociation_epochs
            estimate[rule] = {
                "jobs_measured": jobs_run.get(rule, 0),
                "jobs_full": n_full,
                "cpu_per_job_s": round(per_job, 2),
                "cpu_full_s": round(per_job * n_full, 1),
            }
        total = sum(r["cpu_full_s"] for r in estimate.values())
        results[study] = {
            "measured_wall_s": round(wall, 1),
            "measured_cpu_s": round(cpu, 1),
            "estimated_full_cpu_s": round(total, 1),
            "failed_rules": failed,
            "rules": estimate,
        }
        print(
            f"{study}: one seed {wall:.0f} s wall, {cpu:.0f} CPU-s; full config estimated {total:.0f} CPU-s "
            f"({total / 3600:.2f} CPU-h, >= {total / 7200:.2f} h on 2 cores)"
            + (f"; FAILED jobs of {failed} (their cost is not measured)" if failed else ""),
            flush=True,
        )
        for rule, r in sorted(estimate.items(), key=lambda kv: -kv[1]["cpu_full_s"]):
            print(
                f"    {rule:<28} {r['jobs_measured']:>3} -> {r['jobs_full']:>4} jobs, "
                f"{r['cpu_per_job_s']:>8.1f} CPU-s/job, {r['cpu_full_s']:>9.0f} CPU-s",
                flush=True,
            )
    load = os.getloadavg()
    print(f"(load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; scratch {scratch})")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
