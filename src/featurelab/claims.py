"""The claims table every study writes: each claim of its paper declared once, measured over seeds and
judged with an interval.

A study declares its claims as :class:`Claim` values: an id, the statement, one small function giving
the claim's statistic per seed (or, for a statistic defined only across seeds, of a set of seeds), the
side and threshold with the threshold's written source, the paper's own value where it gives one, and
the precondition without which the claim means nothing. :func:`judge_claims` turns them into rows
(``CLAIM_COLUMNS``); no study counts seeds, applies tolerances or builds rows itself.

Verdicts (:mod:`featurelab.evidence`): PASS when the one-sided 95 % bound lies on the claim's side of
the threshold, FAIL when the bound on the other side lies beyond it (refuted at 95 %), INCONCLUSIVE
otherwise, with ``seeds_needed``. A claim whose precondition does not hold is FAIL with the reason,
whatever its numbers say: "the easy feature explains more variance" of a network that never learned the
hard one is no evidence for the paper (it would pass vacuously). A claim whose condition is not in the
config stays in the table as INCONCLUSIVE, "not run: ...". Rows that hold by construction of our code
(``kind="check"``) are kept apart from the paper's claims (``kind="claim"``) in every count.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from featurelab.evidence import (
    INTERVALS,
    VERDICTS,
    Evidence,
    Interval,
    Side,
    decide,
    exact_evidence,
    exact_holds,
    jackknife_evidence,
    log_t_evidence,
    t_evidence,
)

CLAIM_COLUMNS = (
    "claim",
    "kind",
    "condition",
    "statement",
    "estimate",
    "ci_low",
    "ci_high",
    "side",
    "threshold",
    "paper_value",
    "source",
    "n_seeds",
    "seeds_needed",
    "precondition",
    "precondition_met",
    "verdict",
    "reason",
    "interval",
    "seed_values",
)

Tables = Mapping[str, pd.DataFrame]
Kind = Literal["claim", "check"]


class NotRun(Exception):
    """Raised by a claim's statistic or precondition when the condition it needs is not in the config:
    the row stays, INCONCLUSIVE with the reason "not run: <message>"."""


@dataclass(frozen=True)
class Precondition:
    """What must hold in a seed for that seed to count as evidence: ``met(tables)`` is a boolean per
    seed (a Series indexed by seed; a missing seed does not meet it)."""

    text: str
    met: Callable[[Tables], pd.Series]


@dataclass(frozen=True)
class Claim:
    """One claim (or check of our code), declared once.

    ``statistic(tables)`` gives one number per seed (a Series indexed by seed) for the ``t``, ``log_t``
    and ``exact`` intervals; ``across_seeds(tables, seeds)`` one number for a list of seeds for the
    ``jackknife``. ``source`` says where the threshold comes from (the paper's or notebook's number and
    where it stands, or "our reading" and why); ``exact`` claims say in ``exact_reason`` why the
    property holds by construction; ``floor`` is the smallest value a ``log_t`` statistic is taken as.
    """

    claim: str
    statement: str
    side: Side
    threshold: float
    source: str
    statistic: Callable[[Tables], pd.Series] | None = None
    across_seeds: Callable[[Tables, list], float] | None = None
    interval: Interval = "t"
    kind: Kind = "claim"
    condition: str = ""
    paper_value: float = math.nan
    precondition: Precondition | None = None
    floor: float = 1e-12
    exact_reason: str = ""

    def __post_init__(self) -> None:
        problems = []
        if self.side not in (">=", "<="):
            problems.append(f"side {self.side!r} is not '>=' or '<='")
        if self.interval not in INTERVALS:
            problems.append(f"interval {self.interval!r} is not one of {INTERVALS}")
        if self.kind not in ("claim", "check"):
            problems.append(f"kind {self.kind!r} is not 'claim' or 'check'")
        if (self.interval == "jackknife") != (self.across_seeds is not None):
            problems.append("a jackknife claim has across_seeds, any other a per-seed statistic")
        if self.interval != "jackknife" and self.statistic is None:
            problems.append("no statistic")
        if self.interval == "exact" and not self.exact_reason:
            problems.append("an exact claim needs exact_reason")
        if not self.source:
            problems.append("no source for the threshold")
        if problems:
            raise ValueError(f"claim {self.claim!r}: " + "; ".join(problems))


def all_of(*parts: Precondition, joiner: str = "; ") -> Precondition:
    """One precondition, met in a seed where every part is (a seed a part does not list does not meet it);
    its text joins the parts' texts."""

    def met(tables: Tables) -> pd.Series:
        frames = [pd.Series(part.met(tables)).astype("boolean") for part in parts]
        return pd.concat(frames, axis=1).fillna(False).all(axis=1)

    return Precondition(joiner.join(part.text for part in parts), met)


def _per_seed(series: pd.Series, seeds: Sequence) -> pd.Series:
    return pd.Series(series).reindex(list(seeds))


def _format_seeds(seeds: Iterable) -> str:
    return ", ".join(str(s) for s in seeds)


def _evidence(claim: Claim, tables: Tables, seeds: list) -> tuple[Evidence, str]:
    """The claim's evidence on ``seeds``, and the per-seed values as text."""
    if claim.interval == "jackknife":
        evidence = jackknife_evidence(
            lambda subset: claim.across_seeds(tables, subset), seeds, claim.side, claim.threshold
        )
        return evidence, ""
    values = _per_seed(claim.statistic(tables), seeds).astype(float)
    finite = values[np.isfinite(values)]
    shown = "; ".join(f"{seed}={value:.4g}" for seed, value in values.items())
    if claim.interval == "exact":
        evidence = exact_evidence(finite.to_numpy(), claim.side, claim.threshold)
    elif claim.interval == "log_t":
        evidence = log_t_evidence(finite.to_numpy(), claim.side, claim.threshold, claim.floor)
    else:
        evidence = t_evidence(finite.to_numpy(), claim.side, claim.threshold)
    missing = [seed for seed in values.index if seed not in finite.index]
    if missing:
        note = f"no value in seed(s) {_format_seeds(missing)}"
        evidence = dataclasses.replace(evidence, reason="; ".join(r for r in (evidence.reason, note) if r))
    return evidence, shown


def _row(claim: Claim, **fields: Any) -> dict[str, Any]:
    base = dict(
        claim=claim.claim,
        kind=claim.kind,
        condition=claim.condition,
        statement=claim.statement,
        estimate=math.nan,
        ci_low=math.nan,
        ci_high=math.nan,
        side=claim.side,
        threshold=float(claim.threshold),
        paper_value=float(claim.paper_value),
        source=claim.source + (f" Exact: {claim.exact_reason}" if claim.exact_reason else ""),
        n_seeds=0,
        seeds_needed=math.nan,
        precondition=claim.precondition.text if claim.precondition else "",
        precondition_met=True,
        verdict="INCONCLUSIVE",
        reason="",
        interval=claim.interval,
        seed_values="",
    )
    return {**base, **fields}


def _counted_seeds(claim: Claim, tables: Tables, seeds: list, min_share: float) -> tuple[list, str]:
    """The seeds that meet the claim's precondition, and why the precondition is unmet ("" when met)."""
    if claim.precondition is None:
        return seeds, ""
    met = _per_seed(claim.precondition.met(tables), seeds).fillna(False).astype(bool)
    counted = [seed for seed in seeds if met[seed]]
    needed = max(1, math.ceil(min_share * len(seeds) - 1e-9))
    if len(counted) >= needed:
        return counted, ""
    failing = _format_seeds(seed for seed in seeds if not met[seed])
    return counted, (
        f"precondition not met: {claim.precondition.text} fails in seed(s) {failing} "
        f"({len(counted)} of {len(seeds)} hold, {needed} needed)"
    )


def judge(claim: Claim, tables: Tables, seeds: Sequence, min_share: float) -> dict[str, Any]:
    """One row of the claims table.

    ``seeds`` are the study's seeds; the claim's precondition must hold in at least
    ``ceil(min_share * len(seeds))`` of them (and in one at least), and only those seeds are evidence.
    When it does not, the row is FAIL; its numbers are then those of every seed, for the reader to see
    what the claim would have said.
    """
    seeds = list(seeds)
    try:
        counted, unmet = _counted_seeds(claim, tables, seeds, min_share)
        evidence, shown = _evidence(claim, tables, seeds if unmet else counted)
    except NotRun as missing:
        return _row(claim, reason=f"not run: {missing}")
    measured = dict(
        estimate=evidence.estimate,
        ci_low=evidence.ci_low,
        ci_high=evidence.ci_high,
        n_seeds=evidence.n,
        seeds_needed=evidence.seeds_needed,
        seed_values=shown,
    )
    if unmet:
        return _row(claim, **measured, precondition_met=False, verdict="FAIL", reason=unmet)
    return _row(claim, **measured, verdict=evidence.verdict, reason=evidence.reason)


def judge_claims(claims: Iterable[Claim], tables: Tables, seeds: Sequence, min_share: float) -> pd.DataFrame:
    """The claims table: one :func:`judge` row per claim, in declaration order."""
    claims = list(claims)
    keys = [(c.claim, c.condition) for c in claims]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"claims declared twice (claim, condition): {duplicated}")
    rows = [judge(claim, tables, seeds, min_share) for claim in claims]
    return claims_frame(rows)


def claims_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The claims table from :func:`judge` rows, columns in ``CLAIM_COLUMNS`` order."""
    frame = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    return frame.astype({"n_seeds": "int64", "precondition_met": "bool", "seeds_needed": "float64"})


def verdict_counts(claims: pd.DataFrame) -> dict[str, dict[str, int]]:
    """kind -> verdict -> count, every verdict present (claims and checks are never counted together)."""
    return {
        kind: {verdict: int(((claims["kind"] == kind) & (claims["verdict"] == verdict)).sum()) for verdict in VERDICTS}
        for kind in ("claim", "check")
    }


def counts_sentence(claims: pd.DataFrame) -> str:
    """ "Claims of the paper: 3 PASS, 1 FAIL, 2 INCONCLUSIVE. Checks of our code: 5 PASS, 0 FAIL." """
    counts = verdict_counts(claims)
    claim_part = ", ".join(f"{counts['claim'][v]} {v}" for v in VERDICTS)
    checks = counts["check"]
    check_part = ", ".join(f"{checks[v]} {v}" for v in VERDICTS if v != "INCONCLUSIVE" or checks[v])
    check_part = check_part if sum(checks.values()) else "none"
    return f"Claims of the paper: {claim_part}. Checks of our code: {check_part}."


def verdict_agrees(row: Any) -> bool:
    """Whether a row's verdict is the one its interval, side, threshold and precondition give: the
    invariant every claims table keeps (a test checks it on real runs)."""
    if not row.precondition_met:
        return row.verdict == "FAIL"
    if row.reason.startswith("not run:"):
        return row.verdict == "INCONCLUSIVE"
    if row.interval == "exact":
        if not math.isfinite(row.estimate):
            return row.verdict == "INCONCLUSIVE"
        return row.verdict == ("PASS" if exact_holds(row.estimate, row.side, row.threshold) else "FAIL")
    return row.verdict == decide(row.ci_low, row.ci_high, row.side, row.threshold)


def disagreeing_rows(claims: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``claims`` whose verdict does not follow from their interval (empty when consistent)."""
    return claims[[not verdict_agrees(row) for row in claims.itertuples()]]
