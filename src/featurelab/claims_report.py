"""The claims table as people read it: markdown, a sortable HTML page for the report, and the job of every
claims rule that writes them beside the parquet table."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from featurelab.claims import counts_sentence


def _number(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def interval_text(row: Any) -> str:
    """ "0.209 [0.139, 0.28]", or the estimate alone when there is no interval."""
    if not math.isfinite(row.estimate):
        return ""
    bounds = f" [{_number(row.ci_low)}, {_number(row.ci_high)}]" if math.isfinite(row.ci_low) else ""
    return f"{_number(row.estimate)}{bounds}"


def needed_text(row: Any) -> str:
    if row.verdict != "INCONCLUSIVE" or math.isnan(row.seeds_needed):
        return ""
    return "> 50" if math.isinf(row.seeds_needed) else f"{row.seeds_needed:.0f}"


def precondition_text(row: Any) -> str:
    return "" if not row.precondition else f"{row.precondition} ({'met' if row.precondition_met else 'NOT met'})"


def claims_markdown(claims: pd.DataFrame, title: str) -> str:
    """A readable copy of a claims table: the verdict, the estimate with its one-sided 95 % bounds, the
    threshold and its source."""
    lines = [
        f"# {title}",
        "",
        counts_sentence(claims),
        "PASS: the one-sided 95 % bound is on the claim's side of the threshold; FAIL: the other bound is "
        "beyond it (refuted at 95 %), or the precondition does not hold; INCONCLUSIVE: the interval contains "
        "the threshold (`seeds needed` says how many seeds would settle it).",
        "",
        "| verdict | kind | claim | condition | estimate [95 % bounds] | threshold | paper | seeds | seeds needed "
        "| precondition | reason | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in claims.itertuples():
        lines.append(
            f"| {r.verdict} | {r.kind} | {r.statement} | {r.condition} | {interval_text(r)} ({r.interval}) | "
            f"{r.side} {_number(r.threshold)} | {_number(r.paper_value)} | {r.n_seeds} | {needed_text(r)} | "
            f"{precondition_text(r)} | {r.reason} | {r.source} |"
        )
    return "\n".join(lines) + "\n"


#: The sortable table's columns: (header, how a row's cell reads, the value it sorts by).
_HTML_COLUMNS: tuple[tuple[str, Callable[[Any], str], Callable[[Any], Any]], ...] = (
    ("verdict", lambda r: r.verdict, lambda r: r.verdict),
    ("kind", lambda r: r.kind, lambda r: r.kind),
    ("claim", lambda r: r.claim, lambda r: r.claim),
    ("condition", lambda r: r.condition, lambda r: r.condition),
    ("statement", lambda r: r.statement, lambda r: r.statement),
    ("estimate [95 % bounds]", interval_text, lambda r: r.estimate),
    ("interval", lambda r: r.interval, lambda r: r.interval),
    ("threshold", lambda r: f"{r.side} {_number(r.threshold)}", lambda r: r.threshold),
    ("paper", lambda r: _number(r.paper_value), lambda r: r.paper_value),
    ("seeds", lambda r: str(r.n_seeds), lambda r: r.n_seeds),
    ("seeds needed", needed_text, lambda r: r.seeds_needed),
    ("per-seed values", lambda r: r.seed_values, lambda r: r.seed_values),
    ("precondition", precondition_text, lambda r: (bool(r.precondition) and not r.precondition_met, r.precondition)),
    ("reason", lambda r: r.reason, lambda r: r.reason),
    ("source of the threshold", lambda r: r.source, lambda r: r.source),
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
td.PASS { color: #0072b2; font-weight: bold; }
td.FAIL { color: #d55e00; font-weight: bold; }
td.INCONCLUSIVE { color: #555; font-weight: bold; }
"""


def _sort_key(value: Any) -> str:
    """A cell's ``data-sort``: numbers in full precision (the page sorts them as numbers), NaN as "NaN"."""
    import numbers

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

    head = "".join(f"<th>{escape(name)}</th>" for name, _, _ in _HTML_COLUMNS)
    rows = []
    for r in claims.itertuples():
        cells = []
        for name, text, key in _HTML_COLUMNS:
            css = f' class="{text(r)}"' if name == "verdict" else ""
            cells.append(f'<td{css} data-sort="{escape(_sort_key(key(r)))}">{escape(text(r))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1 style='font-size:16px'>{escape(title)}</h1>\n"
        f"<p>{escape(counts_sentence(claims))} Bounds are one-sided 95 % bounds. Click a column header to "
        "sort by it.</p>\n"
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
