"""The claims table every study writes: one row per claim of its paper, measured and judged.

Columns (``CLAIM_COLUMNS``): ``claim`` (short id), ``condition``, ``statement`` (the claim in words,
with its threshold), ``measured`` (the number), ``measured_what`` (what that number is), ``threshold``,
``seeds_passing``, ``n_seeds`` and ``passed``. A claim that does not reproduce is reported as FAIL,
never tuned away.
"""

from __future__ import annotations

import math

import pandas as pd

CLAIM_COLUMNS = ("claim", "condition", "statement", "measured", "measured_what", "threshold", "seeds_passing",
                 "n_seeds", "passed")


def seeds_needed(fraction: float, n_seeds: int) -> int:
    """How many of ``n_seeds`` must agree for a claim to hold (e.g. 0.8 of 5 -> 4)."""
    return math.ceil(fraction * n_seeds - 1e-9)


def claims_markdown(claims: pd.DataFrame, title: str) -> str:
    """A readable copy of a claims table."""
    lines = [f"# {title}", "", "| claim | condition | measured | threshold | seeds passing | result |",
             "|---|---|---|---|---|---|"]
    for r in claims.itertuples():
        lines.append(f"| {r.statement} | {r.condition} | {r.measured:.4g} ({r.measured_what}) | {r.threshold:.4g} | "
                     f"{r.seeds_passing}/{r.n_seeds} | {'PASS' if r.passed else 'FAIL'} |")
    return "\n".join(lines) + "\n"
