"""The report's front page, composed when the workflow is loaded (it imports nothing heavy: building the DAG
runs it)."""

from __future__ import annotations

from pathlib import Path


def report_front_page(description: str | Path, summary: str | Path, out: str | Path) -> str:
    """The report's front page: the workflow's description, then the run's summary (as it is in
    ``results/summary.md``, a literal block) when the run has written one; rewritten only when its text
    changes. Returns the page's absolute path (Snakemake's ``report:`` directive reads it)."""
    text = Path(description).read_text()
    summary = Path(summary)
    if summary.exists():
        title = "This run's verdicts and cost (results/summary.md)"
        body = "\n".join(f"    {line}" if line else "" for line in summary.read_text().splitlines())
        text += f"\n{title}\n{'-' * len(title)}\n\n::\n\n{body}\n"
    out = Path(out).resolve()
    if not out.exists() or out.read_text() != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return str(out)
