"""results/summary.md: the run's verdicts and cost, generated from its claims tables and job logs, and the
report's front page built from it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from featurelab.report_page import report_front_page
from featurelab.summary import log_cost, summary_markdown, write_summary

#: The studies of the session's shared tiny tree the end-to-end test copies.
TINY_STUDIES = ["complexity"]

LOG = """\
2026-12-07 06:36:31,940 INFO rule geometry_aggregate: start-up 0.22 CPU-s, 0.68 s wall, peak RSS 164 MB
2026-12-07 06:36:32,751 INFO rule geometry_aggregate: finished, 0.90 CPU-s, 1.49 s wall, peak RSS 164 MB
"""


def claims_table(verdicts: list[str], kinds: list[str] | None = None) -> pd.DataFrame:
    n = len(verdicts)
    return pd.DataFrame(
        {
            "claim": [f"c{k}" for k in range(n)],
            "kind": kinds or ["claim"] * n,
            "condition": [""] * n,
            "estimate": [0.5] * n,
            "ci_low": [0.4] * n,
            "ci_high": [0.6] * n,
            "side": [">="] * n,
            "threshold": [0.3] * n,
            "verdict": verdicts,
            "n_seeds": [3] * n,
        }
    )


def test_a_job_log_gives_its_cpu_and_its_span(tmp_path):
    (tmp_path / "a.log").write_text(LOG)
    (tmp_path / "b.log").write_text(LOG.replace("06:36:32,751", "06:36:42,751").replace("0.90 CPU-s", "2.10 CPU-s"))
    (tmp_path / "failed.log").write_text("2026-12-07 06:36:31,940 ERROR rule x: failed\n")
    cost = log_cost(sorted(tmp_path.glob("*.log")))
    assert cost.jobs == 2 and cost.cpu_s == pytest.approx(3.0)
    assert cost.span_s == pytest.approx(10.0 + 1.49)  # first start (end - wall) to the last end


def test_the_summary_counts_claims_apart_from_checks_and_shows_each_interval():
    claims = claims_table(["PASS", "FAIL", "PASS"], kinds=["claim", "claim", "check"])
    text = summary_markdown({"geometry": claims}, {"geometry": log_cost([])}, log_cost([]))
    assert "| [geometry](#geometry) | 1 / 1 / 0 | 0 | 0 |" in text
    assert "checks of our code: 1 of 1 PASS" in text
    assert "| `c0` | 0.5 [0.4, 0.6] | >= 0.3 | PASS |" in text and "`c2`" not in text


def test_the_front_page_adds_the_summary_once_it_exists(tmp_path):
    description = tmp_path / "workflow.rst"
    description.write_text("featurelab regenerates ...\n")
    summary, page = tmp_path / "summary.md", tmp_path / "out" / "front.rst"
    assert Path(report_front_page(description, summary, page)).read_text() == "featurelab regenerates ...\n"
    summary.write_text("# featurelab: summary\n\n| a | b |\n")
    text = Path(report_front_page(description, summary, page)).read_text()
    assert "::\n\n    # featurelab: summary\n\n    | a | b |\n" in text


def test_write_summary_reads_tables_and_logs(tmp_path):
    (tmp_path / "results" / "geometry").mkdir(parents=True)
    claims_table(["PASS"]).to_parquet(tmp_path / "results" / "geometry" / "claims.parquet")
    logs = tmp_path / "logs"
    (logs / "geometry").mkdir(parents=True)
    (logs / "geometry" / "aggregate.log").write_text(LOG)
    (logs / "robustness").mkdir()
    (logs / "robustness" / "x.log").write_text(LOG)  # a sweep's job: not this run's
    write_summary([str(tmp_path / "results" / "geometry" / "claims.parquet")], logs, tmp_path / "summary.md")
    text = (tmp_path / "summary.md").read_text()
    assert "Run: 1 logged jobs, 1 CPU-s" in text and "| [geometry](#geometry) | 1 / 0 / 0 | 1 | 1 |" in text


@pytest.mark.e2e
def test_figures_all_writes_the_summary(tiny_trees, tmp_path):
    workdir, _, _ = tiny_trees.workdir(tmp_path / "work", TINY_STUDIES)
    text = (workdir / "results" / "summary.md").read_text()
    assert text.startswith("# featurelab: summary of this run") and "## complexity" in text
    assert "| [complexity](#complexity) |" in text
