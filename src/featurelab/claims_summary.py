"""The verdict counts of every study's claims table, as the markdown table the README shows.

``python -m featurelab.claims_summary [RESULTS]`` prints it from ``RESULTS/<study>/claims.parquet``
(default ``results``) for every study that has one, so that the README's counts are regenerated, not
typed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from featurelab.claims import verdict_counts
from featurelab.evidence import VERDICTS


def summary_rows(results: Path) -> list[tuple[str, dict[str, dict[str, int]], int]]:
    """(study, kind -> verdict -> count, number of seeds) for every claims table under ``results``."""
    rows = []
    for path in sorted(results.glob("*/claims.parquet")):
        claims = pd.read_parquet(path)
        rows.append((path.parent.name, verdict_counts(claims), int(claims["n_seeds"].max())))
    return rows


def summary_markdown(results: Path) -> str:
    header = "| study | seeds | claims: " + " / ".join(VERDICTS) + " | checks of our code: PASS / FAIL |"
    lines = [header, "|---|---|---|---|"]
    for study, counts, seeds in summary_rows(results):
        claims = " / ".join(str(counts["claim"][v]) for v in VERDICTS)
        checks = f"{counts['check']['PASS']} / {counts['check']['FAIL']}" if sum(counts["check"].values()) else "none"
        lines.append(f"| `{study}` | {seeds} | {claims} | {checks} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    print(summary_markdown(Path(args[0] if args else "results")), end="")


if __name__ == "__main__":
    main()
