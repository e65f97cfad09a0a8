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
import numbers
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


#: The sortable table's columns: (header, how a row's cell reads, the value it sorts by).
_HTML_COLUMNS: tuple[tuple[str, Callable[[Any], str], Callable[[Any], Any]], ...] = (
    ("result", lambda r: "PASS" if r.passed else "FAIL", lambda r: int(r.passed)),
    ("claim", lambda r: r.claim, lambda r: r.claim),
    ("condition", lambda r: r.condition, lambda r: r.condition),
    ("statement", lambda r: r.statement, lambda r: r.statement),
    ("measured", lambda r: f"{r.measured:.4g}", lambda r: r.measured),
    ("what was measured", lambda r: r.measured_what, lambda r: r.measured_what),
    ("threshold", lambda r: f"{r.threshold:.4g}", lambda r: r.threshold),
    ("seeds passing", lambda r: f"{r.seeds_passing}/{r.n_seeds}", lambda r: r.seeds_passing / max(r.n_seeds, 1)),
    (
        "precondition",
        lambda r: "" if not r.precondition else f"{r.precondition} ({'met' if r.precondition_met else 'NOT met'})",
        lambda r: (bool(r.precondition) and not r.precondition_met, r.precondition),
    ),
    ("reason (FAIL)", lambda r: r.reason, lambda r: r.reason),
)

#: Click a header to sort by it (again: the other way); numbers sort as numbers, NaN last. No library:
#: the page stays a few kilobytes and opens offline.
_SORT_SCRIPT = """
document.querySelectorAll("table.claims th").forEach((th, col) => th.addEventListener("click", () => {
  const table = th.closest("table"), body = table.tBodies[0];
  const up = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", up ? "ascending" : "descending");
  const key = row => row.cells[col].dataset.sort;
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b), nx = Number(x), ny = Number(y);
    const numeric = x !== "" && y !== "" && !Number.isNaN(nx) && !Number.isNaN(ny);
    const c = numeric ? nx - ny : (x === "NaN") - (y === "NaN") || x.localeCompare(y);
    return up ? c : -c;
  });
  rows.forEach(row => body.appendChild(row));
}));
"""

_STYLE = """
body { font: 13px Arial, Helvetica, sans-serif; color: #222; margin: 12px; }
table.claims { border-collapse: collapse; }
table.claims th { cursor: pointer; background: #eee; text-align: left; position: sticky; top: 0; }
table.claims th[aria-sort=ascending]::after { content: " \\25B2"; }
table.claims th[aria-sort=descending]::after { content: " \\25BC"; }
table.claims th, table.claims td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
td.PASS { color: #0173b2; font-weight: bold; }
td.FAIL { color: #d55e00; font-weight: bold; }
"""


def _sort_key(value: Any) -> str:
    """A cell's ``data-sort``: numbers in full precision (the page sorts them as numbers), NaN as "NaN"."""
    if isinstance(value, tuple):
        return "|".join(_sort_key(v) for v in value)
    if isinstance(value, bool | str):
        return str(int(value)) if isinstance(value, bool) else value
    if isinstance(value, numbers.Real):  # NumPy's scalars too
        return "NaN" if math.isnan(value) else repr(float(value))
    return str(value)


def claims_html(claims: pd.DataFrame, title: str) -> str:
    """A claims table as one self-contained HTML page whose columns sort on a header click (the Snakemake
    report shows HTML files in a frame; it offers markdown and TSV files only as downloads)."""
    from html import escape

    passed = int(claims["passed"].sum())
    head = "".join(f"<th>{escape(name)}</th>" for name, _, _ in _HTML_COLUMNS)
    rows = []
    for r in claims.itertuples():
        cells = []
        for name, text, key in _HTML_COLUMNS:
            css = f' class="{text(r)}"' if name == "result" else ""
            cells.append(f'<td{css} data-sort="{escape(_sort_key(key(r)))}">{escape(text(r))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1 style='font-size:16px'>{escape(title)}</h1>\n"
        f"<p>{passed} of {len(claims)} claims PASS. Click a column header to sort by it.</p>\n"
        f'<table class="claims">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n'
        f"<script>{_SORT_SCRIPT}</script>\n</body>\n</html>\n"
    )


def claims_job(
    smk: Any, evaluate: Callable[[Mapping[str, pd.DataFrame], Mapping[str, Any]], pd.DataFrame], title: str
) -> None:
    """The job of every claims rule (scripts/claims.py): ``evaluate(tables, params)`` of the rule's study,
    written to ``output.table`` (parquet), ``output.text`` (markdown under ``title``) and ``output.html``
    (the same table, sortable, for the report: :func:`claims_html`).

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
    write_text(claims_html(claims, title), smk.output.html)
