"""One way to time two ways of computing the same numbers, shared by every ``benchmarks/<study>_benchmark.py``.

A speed ratio measured once, one side after the other, carries whatever the machine's load did between the
two (the README's old hierarchy figure, 19.9x, was 6.4x when rerun). So here:

* both sides run **interleaved** (A B A B ..., ``--pairs`` pairs, at least 3 for a reported number), each in
  a **fresh process** (start-up, imports and all: what a user pays for either approach);
* each side writes the numbers it computed to an ``.npz`` file, and the two are checked to **agree** within
  a stated tolerance before any time is printed (a fast side that computes something else is no speed-up);
* the report gives each side's median and spread (min-max) and the **median of the per-pair ratios** with its
  spread: a pair shares the machine's load, so its ratio is the statistic that survives a load change.

A study's script defines its two sides as functions of its parsed arguments that write the arrays, and
calls :func:`main`::

    def notebook(args) -> dict[str, np.ndarray]: ...   # the notebook's approach, plain torch/numpy
    def pipeline(args) -> dict[str, np.ndarray]: ...   # the code the workflow's job runs

    if __name__ == "__main__":
        sidebyside.main(__doc__, notebook, pipeline, add_arguments=..., rtol=..., atol=...)

Run as a user runs it (``python benchmarks/<study>_benchmark.py --pairs 3``), the script spawns itself
once per side and pair with ``--side NAME --out FILE`` (the child computes one side and exits). Standard
library plus NumPy only, so that it starts fast in every child.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timing import run_timed

REPO = Path(__file__).resolve().parents[1]

Side = Callable[[argparse.Namespace], Mapping[str, np.ndarray]]


@dataclass
class Timings:
    """Wall seconds of every fresh process of each side, in run order (pair i is ``a[i]``, ``b[i]``)."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        """Per-pair speed-up of side B over side A (A's time / B's time)."""
        return [ta / tb for ta, tb in zip(self.a, self.b)]


def spread(values: Sequence[float], unit: str = "") -> str:
    """``median (min-max)`` of ``values``, the form every figure in the README takes."""
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f}{unit})"


def child_env() -> dict[str, str]:
    """The children import featurelab from this clone's src/ (as the workflow's jobs do) and see no GPU
    unless the caller's environment shows one."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH", "")]))
    return env


def run_side(script: str, side: str, argv: Sequence[str], out: Path) -> float:
    """Run one side in a fresh process; its wall seconds from spawn to exit."""
    proc, seconds, _ = run_timed([sys.executable, script, *argv, "--side", side, "--out", str(out)], env=child_env())
    if proc.returncode != 0:
        sys.exit(f"side {side!r} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return seconds


def disagreement(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], rtol: float, atol: float) -> list[str]:
    """The arrays on which the two sides disagree beyond ``|a - b| <= atol + rtol |b|``, described; empty
    when they agree. Both sides must write the same names (a missing array is a disagreement)."""
    problems = [f"{name}: only one side wrote it" for name in sorted(set(a) ^ set(b))]
    for name in sorted(set(a) & set(b)):
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.shape != y.shape:
            problems.append(f"{name}: shapes {x.shape} vs {y.shape}")
        elif not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            worst = float(np.nanmax(np.abs(x.astype(np.float64) - y.astype(np.float64))))
            problems.append(f"{name}: largest difference {worst:.3g} (atol {atol:g}, rtol {rtol:g})")
    return problems


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


def compare(
    script: str,
    argv: Sequence[str],
    names: tuple[str, str],
    pairs: int,
    rtol: float,
    atol: float,
) -> Timings:
    """Run ``pairs`` interleaved pairs of the two sides of ``script`` and check, pair by pair, that both
    computed the same numbers; print each pair as it ends and a summary at the end."""
    a_name, b_name = names
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="sidebyside-") as tmp:
        for i in range(pairs):
            a_out, b_out = Path(tmp) / f"{a_name}{i}.npz", Path(tmp) / f"{b_name}{i}.npz"
            timings.a.append(run_side(script, a_name, argv, a_out))
            timings.b.append(run_side(script, b_name, argv, b_out))
            problems = disagreement(load(a_out), load(b_out), rtol, atol)
            if problems:
                sys.exit(f"the two sides disagree (pair {i + 1}):\n  " + "\n  ".join(problems))
            print(
                f"pair {i + 1}/{pairs}: {a_name} {timings.a[-1]:.2f} s, {b_name} {timings.b[-1]:.2f} s, "
                f"ratio {timings.ratios()[-1]:.2f}x; results agree (rtol {rtol:g}, atol {atol:g})",
                flush=True,
            )
    print(f"{a_name:>9}: {spread(timings.a, ' s')}  (median (min-max) over {pairs} fresh processes)")
    print(f"{b_name:>9}: {spread(timings.b, ' s')}")
    print(f"{'speed-up':>9}: {spread(timings.ratios(), 'x')}  (median (min-max) of the per-pair ratios)")
    print(json.dumps({a_name: timings.a, b_name: timings.b, "ratios": timings.ratios()}))
    return timings


def main(
    doc: str | None,
    notebook: Side,
    pipeline: Side,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    script: str | None = None,
) -> None:
    """Command line of a study benchmark: ``--pairs N`` runs the comparison; ``--side NAME --out FILE``
    (what the comparison spawns) computes one side and writes its arrays."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3, help="interleaved notebook/pipeline pairs (default 3)")
    parser.add_argument("--side", choices=("notebook", "pipeline"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    if args.side is not None:
        if args.out is None:
            parser.error("--side needs --out")
        arrays = (notebook if args.side == "notebook" else pipeline)(args)
        np.savez(args.out, **{name: np.asarray(value) for name, value in arrays.items()})
        return
    if args.pairs < 1:
        parser.error("--pairs must be at least 1 (3 or more for a number worth reporting)")
    compare(
        script or sys.argv[0], strip_option(sys.argv[1:], "--pairs"), ("notebook", "pipeline"), args.pairs, rtol, atol
    )


def strip_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--opt V`` or ``--opt=V``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out
