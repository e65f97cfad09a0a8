"""Do two results trees say the same science? Every claim's verdict and estimate, before and after a change
that may move numbers by float rounding or seed noise (a new random stream, another summation order).

    .venv/bin/python benchmarks/equivalence.py OLD_RESULTS NEW_RESULTS [--markdown]

Where ``benchmarks/compare_outputs.py`` asks for bit-identity, this asks for equivalence, per claim of
every study's ``claims.parquet``:

* **verdict**: unchanged, or moved between PASS and INCONCLUSIVE with the new interval overlapping the old
  (a change of evidence, not of the answer); a move to or from FAIL is a different answer;
* **estimate**: the new estimate (mean over the default seeds) equals the old one or lies within the old
  run's seed range (its smallest and largest per-seed value, as the table writes them: to 4 significant
  digits), or, for a claim without per-seed values, within the old interval.

Prints one row per claim whose verdict or estimate moved, and per study the counts; exit status 1 when a
claim fails either test.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

MOVES_OK = {frozenset({"PASS", "INCONCLUSIVE"})}


def claims(tree: Path) -> dict[str, pd.DataFrame]:
    """Each study's claims table under ``tree`` (results/<study>/claims.parquet)."""
    return {path.parent.name: pd.read_parquet(path) for path in sorted(tree.glob("*/claims.parquet"))}


def claims_by_key(table: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """Rows by (claim, condition): a claim may be judged in several conditions."""
    return {(str(row["claim"]), str(row["condition"])): row for _, row in table.iterrows()}


def overlaps(a: pd.Series, b: pd.Series) -> bool:
    lo_a, hi_a, lo_b, hi_b = (float(x) for x in (a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"]))
    if any(math.isnan(x) for x in (lo_a, hi_a, lo_b, hi_b)):
        return False
    return lo_a <= hi_b and lo_b <= hi_a


def seed_range(row: pd.Series) -> tuple[float, float] | None:
    text = row["seed_values"] if isinstance(row["seed_values"], str) else ""  # "seed=value; seed=value"
    values = [float(part.split("=", 1)[1]) for part in text.split(";") if "=" in part]
    values = [v for v in values if not math.isnan(v)]
    return (min(values), max(values)) if values else None


def compare_row(old: pd.Series, new: pd.Series) -> dict:
    same_verdict = old["verdict"] == new["verdict"]
    verdict_ok = same_verdict or (frozenset({old["verdict"], new["verdict"]}) in MOVES_OK and overlaps(old, new))
    bounds = seed_range(old)
    estimate, before = float(new["estimate"]), float(old["estimate"])
    if estimate == before or (math.isnan(estimate) and math.isnan(before)):
        estimate_ok = True
    elif bounds is not None:  # the table writes seed values to 4 significant digits: allow that rounding
        slack = 5e-4 * max(abs(bounds[0]), abs(bounds[1]))
        estimate_ok = bounds[0] - slack <= estimate <= bounds[1] + slack
    else:  # no per-seed values (an exact or jackknife interval): within the old interval
        estimate_ok = float(old["ci_low"]) <= estimate <= float(old["ci_high"])
    return {
        "claim": old["claim"],
        "condition": old["condition"],
        "kind": old["kind"],
        "old": f"{old['verdict']} {float(old['estimate']):.4g} [{float(old['ci_low']):.4g}, {float(old['ci_high']):.4g}]",
        "new": f"{new['verdict']} {estimate:.4g} [{float(new['ci_low']):.4g}, {float(new['ci_high']):.4g}]",
        "old seed range": "" if bounds is None else f"[{bounds[0]:.4g}, {bounds[1]:.4g}]",
        "verdict": "same" if same_verdict else ("moved, overlapping" if verdict_ok else "CHANGED"),
        "estimate in old range": "yes" if estimate_ok else "NO",
        "ok": verdict_ok and estimate_ok,
        "moved": not same_verdict or float(old["estimate"]) != estimate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    old_claims, new_claims = claims(args.old), claims(args.new)
    failed = False
    summary = []
    for study in sorted(old_claims.keys() | new_claims.keys()):
        if study not in old_claims or study not in new_claims:
            print(f"{study}: claims only in {'old' if study in old_claims else 'new'}")
            failed = True
            continue
        old, new = (claims_by_key(t) for t in (old_claims[study], new_claims[study]))
        rows = [compare_row(old[key], new[key]) for key in old if key in new]
        only = sorted(" / ".join(key) for key in set(old) ^ set(new))
        failed |= bool(only) or not all(r["ok"] for r in rows)
        summary.append(
            {
                "study": study,
                "claims": len(rows),
                "same verdict": sum(r["verdict"] == "same" for r in rows),
                "moved PASS<->INCONCLUSIVE, overlapping": sum(r["verdict"] == "moved, overlapping" for r in rows),
                "verdict changed": sum(r["verdict"] == "CHANGED" for r in rows),
                "estimate within old seed range": sum(r["estimate in old range"] == "yes" for r in rows),
                "identical estimate": sum(not r["moved"] for r in rows),
                "only in one run": ", ".join(only) or "-",
            }
        )
        moved = [r for r in rows if r["verdict"] != "same" or not r["ok"]]
        if moved:
            print(f"\n### {study}\n")
            print(pd.DataFrame(moved).drop(columns=["ok", "moved"]).to_markdown(index=False))
    print("\n" + pd.DataFrame(summary).to_markdown(index=False))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
