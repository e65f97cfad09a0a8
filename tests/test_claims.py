"""The claims framework: a claim declared once becomes a row whose verdict follows from its interval, an
unmet precondition is FAIL whatever the numbers say, and a claim whose condition is not run stays."""

from __future__ import annotations

import pandas as pd
import pytest

from featurelab.claims import (
    CLAIM_COLUMNS,
    Claim,
    NotRun,
    Precondition,
    counts_sentence,
    disagreeing_rows,
    judge_claims,
    verdict_counts,
)
from featurelab.claims_report import claims_html, claims_markdown
from tests.helpers import assert_claims_table

SEEDS = [0, 1, 2, 3, 4]


def _tables(values: list[float], learned: list[bool]) -> dict[str, pd.DataFrame]:
    return {"runs": pd.DataFrame({"seed": SEEDS, "value": values, "learned": learned})}


def _value(tables) -> pd.Series:
    return tables["runs"].set_index("seed")["value"]


LEARNED = Precondition("the model learned", lambda tables: tables["runs"].set_index("seed")["learned"])


def _claim(**overrides) -> Claim:
    fields = dict(claim="share", statement="share >= 0.5", side=">=", threshold=0.5, source="our reading")
    return Claim(**{**fields, "statistic": _value, **overrides})


def _claim_and_check() -> list[Claim]:
    """A claim of the paper and a check of our code that holds by construction (its statistic is 0)."""
    identity = _claim(
        claim="identity",
        kind="check",
        interval="exact",
        side="<=",
        threshold=1e-6,
        exact_reason="by construction",
        statistic=lambda tables: _value(tables) * 0,
    )
    return [_claim(), identity]


def test_a_row_has_every_column_and_its_verdict_follows_from_the_interval() -> None:
    table = judge_claims([_claim()], _tables([0.8, 0.82, 0.79, 0.81, 0.8], [True] * 5), SEEDS, 0.8)
    assert list(table.columns) == list(CLAIM_COLUMNS)
    row = table.iloc[0]
    assert row.verdict == "PASS" and row.ci_low > 0.5 and row.n_seeds == 5
    assert_claims_table(table)


def test_an_unmet_precondition_is_fail_even_when_the_numbers_pass() -> None:
    table = judge_claims(
        [_claim(precondition=LEARNED)], _tables([0.9] * 5, [True, False, False, True, True]), SEEDS, 0.8
    )
    row = table.iloc[0]
    assert row.verdict == "FAIL" and not row.precondition_met
    assert "fails in seed(s) 1, 2" in row.reason
    assert disagreeing_rows(table).empty


def test_only_the_seeds_meeting_the_precondition_are_evidence() -> None:
    """Seed 4 did not learn (its value is garbage); 4 of 5 is enough at min_share 0.8."""
    table = judge_claims(
        [_claim(precondition=LEARNED)], _tables([0.8, 0.81, 0.79, 0.8, -5.0], [True] * 4 + [False]), SEEDS, 0.8
    )
    assert table.iloc[0].verdict == "PASS" and table.iloc[0].n_seeds == 4


def test_a_claim_not_run_stays_in_the_table() -> None:
    def missing(tables):
        raise NotRun("task sum not in the config")

    row = judge_claims([_claim(statistic=missing)], _tables([0.8] * 5, [True] * 5), SEEDS, 0.8).iloc[0]
    assert row.verdict == "INCONCLUSIVE" and row.reason == "not run: task sum not in the config"


def test_checks_are_counted_apart_from_claims() -> None:
    table = judge_claims(_claim_and_check(), _tables([0.8, 0.5, 0.2, 0.6, 0.7], [True] * 5), SEEDS, 0.8)
    assert verdict_counts(table) == {
        "claim": {"PASS": 0, "FAIL": 0, "INCONCLUSIVE": 1},
        "check": {"PASS": 1, "FAIL": 0, "INCONCLUSIVE": 0},
    }
    assert "Checks of our code: 1 PASS" in counts_sentence(table)
    assert "INCONCLUSIVE" in claims_markdown(table, "t") and "seeds needed" in claims_html(table, "t")


def test_a_declaration_without_source_or_with_the_wrong_statistic_is_refused() -> None:
    with pytest.raises(ValueError, match="no source"):
        _claim(source="")
    with pytest.raises(ValueError, match="jackknife"):
        _claim(interval="jackknife")
    with pytest.raises(ValueError, match="exact_reason"):
        _claim(interval="exact")
    with pytest.raises(ValueError, match="declared twice"):
        judge_claims([_claim(), _claim()], _tables([0.8] * 5, [True] * 5), SEEDS, 0.8)


def test_a_tampered_verdict_is_caught() -> None:
    table = judge_claims([_claim()], _tables([0.8, 0.82, 0.79, 0.81, 0.8], [True] * 5), SEEDS, 0.8)
    table.loc[0, "verdict"] = "FAIL"
    assert len(disagreeing_rows(table)) == 1


def test_the_readme_summary_command_counts_claims_and_checks_apart(tmp_path, capsys) -> None:
    """``python -m featurelab.claims_summary RESULTS`` (the README's table of verdict counts)."""
    from featurelab.claims_summary import main

    (tmp_path / "toy").mkdir()
    judge_claims(_claim_and_check(), _tables([0.8, 0.82, 0.79, 0.81, 0.8], [True] * 5), SEEDS, 0.8).to_parquet(
        tmp_path / "toy" / "claims.parquet"
    )
    main([str(tmp_path)])
    assert "| `toy` | 5 | 1 / 0 / 0 | 1 / 0 |" in capsys.readouterr().out
