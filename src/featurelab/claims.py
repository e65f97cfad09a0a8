"""The claims table every study writes: one row per claim of its paper, measured and judged.

Columns (``CLAIM_COLUMNS``): ``claim`` (short id), ``condition``, ``statement`` (the claim in words,
with its threshold), ``measured`` (the number), ``measured_what`` (what that number is), ``threshold``,
``seeds_passing``, ``n_seeds``, ``precondition`` (what must hold for the claim to mean anything, e.g.
"both features learned"; empty when none), ``precondition_met``, ``reason`` (why a claim FAILS: the
unmet precondition or the missed threshold; empty on PASS) and ``passed``.

A claim that does not reproduce is reported as FAIL, never tuned away. A claim whose precondition does
not hold is FAIL too, whatever its number says: "the easy feature explains more variance" of a network
that never learned the hard one is no evidence for the paper (it would pass vacuously).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

CLAIM_COLUMNS = (
    "claim",
    "condition",
    "statement",
    "measured",
    "measured_what",
    "threshold",
    "seeds_passing",
    "n_seeds",
    "precondition",
    "precondition_met",
    "reason",
    "passed",
)


def seeds_needed(fraction: float, n_seeds: int) -> int:
    """How many of ``n_seeds`` must agree for a claim to hold (e.g. 0.8 of 5 -> 4)."""
    return math.ceil(fraction * n_seeds - 1e-9)


def claim_row(
    claim: str,
    condition: str,
    statement: str,
    *,
    measured: float,
    measured_what: str,
    threshold: float,
    seeds_passing: int,
    n_seeds: int,
    holds: bool,
    precondition: str = "",
    precondition_met: bool = True,
    unmet_reason: str = "",
    missed_reason: str = "",
) -> dict[str, Any]:
    """One claims-table row (the one builder every study uses).

    ``holds`` is the verdict of the claim's own test; the row PASSES only when the precondition holds
    too. ``unmet_reason`` says what was missing when it does not (default: the precondition's text);
    ``missed_reason`` why the threshold was missed (default: the measured value against the threshold).
    """
    precondition_met = bool(precondition_met)
    passed = bool(holds) and precondition_met
    if not precondition_met:
        reason = f"precondition not met: {unmet_reason or precondition}"
    elif not holds:
        reason = missed_reason or f"measured {measured:.4g} against threshold {threshold:.4g}"
    else:
        reason = ""
    return dict(
        claim=claim,
        condition=condition,
        statement=statement,
        measured=float(measured),
        measured_what=measured_what,
        threshold=float(threshold),
        seeds_passing=int(seeds_passing),
        n_seeds=int(n_seeds),
        precondition=precondition,
        precondition_met=precondition_met,
        reason=reason,
        passed=passed,
    )


def claims_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The claims table from :func:`claim_row` rows, columns in ``CLAIM_COLUMNS`` order."""
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def claims_markdown(claims: pd.DataFrame, title: str) -> str:
    """A readable copy of a claims table."""
    lines = [
        f"# {title}",
        "",
        "| claim | condition | measured | threshold | seeds passing | precondition | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in claims.itertuples():
        pre = "" if not r.precondition else f"{r.precondition} ({'met' if r.precondition_met else 'NOT met'})"
        result = "PASS" if r.passed else f"FAIL: {r.reason}"
        lines.append(
            f"| {r.statement} | {r.condition} | {r.measured:.4g} ({r.measured_what}) | {r.threshold:.4g} | "
            f"{r.seeds_passing}/{r.n_seeds} | {pre} | {result} |"
        )
    return "\n".join(lines) + "\n"


def claims_job(
    smk: Any, evaluate: Callable[[Mapping[str, pd.DataFrame], Mapping[str, Any]], pd.DataFrame], title: str
) -> None:
    """The job of every claims rule (scripts/claims.py): ``evaluate(tables, params)`` of the rule's study,
    written to ``output.table`` (parquet) and ``output.text`` (markdown under ``title``).

    ``tables`` are the rule's named inputs read as DataFrames, ``params`` the rule's params (but
    ``step``), with ``params["provenance"]`` each table's provenance record. The claims table's own
    provenance records what the verdicts depend on: those params, and for each table the config of the
    runs it was made from.
    """
    from featurelab.io import step_inputs, write_table, write_text
    from featurelab.provenance import provenance

    tables, params = step_inputs(smk)
    claims = evaluate(tables, params)
    upstream = params.pop("provenance")
    config = {**params, **{name: record.get("config") for name, record in upstream.items()}}
    write_table(claims, smk.output.table, provenance(config, rule=smk.rule))
    write_text(claims_markdown(claims, title), smk.output.text)
