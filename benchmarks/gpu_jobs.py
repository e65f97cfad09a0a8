"""The per-job table of benchmarks/gpu_check.sh: which jobs declared a GPU and which used one, and their times.

    python benchmarks/gpu_jobs.py RUN_DIR          # RUN_DIR/snakemake.log + RUN_DIR/logs -> jobs table (TSV)
    python benchmarks/gpu_jobs.py --compare OUT    # rules slower on cuda than on cpu, over OUT's phases

A job *declared* the GPU when Snakemake printed ``gpu=1`` among its resources (the training rules do when
``device`` resolves to CUDA); it *used* one when its own log says ``on cuda`` (``TorchJob.done``). The job's
CPU and wall seconds are the ones it logs at its end (``featurelab.scripting.run``). Standard library only:
it runs on the GPU machine's bare Python.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from pathlib import Path

from timing import FINISHED

JOB = re.compile(r"^(?:localrule|rule) (\S+):\n((?:    .*\n)+)", re.M)
USED = re.compile(r" on (cuda|cpu)\b")
COLUMNS = ["rule", "wildcards", "gpu_declared", "device_used", "cpu_s", "wall_s", "log"]


def field(block: str, name: str) -> str:
    found = re.search(rf"^    {name}: (.*)$", block, re.M)
    return found.group(1).strip() if found else ""


def jobs(run_dir: Path) -> list[dict[str, str]]:
    rows = []
    for rule, block in JOB.findall((run_dir / "snakemake.log").read_text(errors="replace")):
        log = field(block, "log").split(",")[0].strip()
        text = ""
        if log.startswith("results/logs/"):
            path = run_dir / "logs" / log.removeprefix("results/logs/")
            text = path.read_text(errors="replace") if path.exists() else ""
        finished, used = FINISHED.findall(text), USED.findall(text)
        rows.append(
            {
                "rule": rule,
                "wildcards": field(block, "wildcards"),
                "gpu_declared": "yes" if re.search(r"\bgpu=[1-9]", field(block, "resources")) else "no",
                "device_used": used[-1] if used else "",
                "cpu_s": finished[-1][1] if finished else "",
                "wall_s": finished[-1][2] if finished else "",
                "log": log,
            }
        )
    return rows


def slower_on_gpu(out: Path) -> list[dict[str, str]]:
    """Per (phase, rule): the median job wall time on cuda and on cpu, for the rules slower on cuda."""
    rows = []
    for cuda_dir in sorted(out.glob("*-cuda")):
        cpu_dir = cuda_dir.with_name(cuda_dir.name.removesuffix("-cuda") + "-cpu")
        if not (cpu_dir / "jobs.tsv").exists():
            continue
        medians = {}
        for device, where in (("cuda", cuda_dir), ("cpu", cpu_dir)):
            with (where / "jobs.tsv").open() as fh:
                table = [r for r in csv.DictReader(fh, delimiter="\t") if r["wall_s"]]
            medians[device] = {
                rule: statistics.median(float(r["wall_s"]) for r in table if r["rule"] == rule)
                for rule in {r["rule"] for r in table}
            }
        for rule in sorted(medians["cuda"].keys() & medians["cpu"].keys()):
            if medians["cuda"][rule] > medians["cpu"][rule]:
                rows.append(
                    {
                        "phase": cuda_dir.name.removesuffix("-cuda"),
                        "rule": rule,
                        "median_wall_cuda_s": f"{medians['cuda'][rule]:.2f}",
                        "median_wall_cpu_s": f"{medians['cpu'][rule]:.2f}",
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    rows = slower_on_gpu(args.path) if args.compare else jobs(args.path)
    columns = ["phase", "rule", "median_wall_cuda_s", "median_wall_cpu_s"] if args.compare else COLUMNS
    writer = csv.DictWriter(sys.stdout, columns, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


if __name__ == "__main__":
    main()
