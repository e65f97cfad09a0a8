"""Judging a claim from its seeds: a one-sided 95 % bound each way, a three-way verdict, the seeds needed.

The seed is the unit of evidence: one independent replication (its own data, initialisation and order)
gives one number of a claim's statistic. With n such numbers the question is whether the statistic's
population value lies on the claim's side of its threshold, so each claim is judged by an interval, not
by a vote of seeds (a vote cannot tell "the paper does not hold here" from "too few seeds").

Interval kinds (``INTERVALS``), chosen per kind of statistic:

- ``t``: mean +- t(0.95, n-1) s / sqrt(n). For roughly symmetric per-seed numbers (a variance share, a
  gap between two features of the same run, an accuracy, a rank correlation).
- ``log_t``: the same on log(value), transformed back (a geometric mean and its bounds). For ratios and
  losses, which are positive, skewed and span decades; values are floored at ``floor`` (stated per claim)
  so that a loss of exactly 0 has a logarithm.
- ``jackknife``: for a statistic defined only across seeds (a slope fitted to all seeds, a share pooled
  over seeds): leave-one-seed-out values give the jackknife standard error, and the bound is the full
  estimate +- t(0.95, n-1) SE. A percentile bootstrap under-covers badly at n <= 5; the jackknife of a
  mean is exactly the t-interval, and ``tests/test_evidence.py`` checks its calibration on a smooth
  statistic.
- ``exact``: a property that holds by construction up to float rounding (a generator invariant, a
  function-preserving manipulation judged on logits). No interval: it holds when every seed's value is
  on the threshold's side (the threshold is a float-rounding tolerance), and the "interval" reported
  is the range over seeds.

Verdict for a claim ``statistic >= threshold`` (mirror for ``<=``): PASS when the lower bound is above
the threshold, FAIL when the upper bound is below it (refuted at 95 %), INCONCLUSIVE otherwise. A bound
within ``1e-9`` (relative) of the threshold is on it, so that the last bits of a float cannot flip a
verdict.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

#: One-sided confidence level of each bound; together the two bounds are a 90 % two-sided interval.
LEVEL = 0.95
#: seeds_needed above this is reported as infinite: the claim sits on its threshold.
MAX_SEEDS_NEEDED = 50
#: Relative distance under which a bound counts as on the threshold (float rounding, not evidence).
ON_THRESHOLD = 1e-9

Side = Literal[">=", "<="]
Interval = Literal["t", "log_t", "jackknife", "exact"]
INTERVALS: tuple[str, ...] = ("t", "log_t", "jackknife", "exact")
VERDICTS: tuple[str, ...] = ("PASS", "FAIL", "INCONCLUSIVE")


@dataclass(frozen=True)
class Evidence:
    """A claim's estimate, its two one-sided bounds, and what they decide."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    verdict: str
    seeds_needed: float
    reason: str


@functools.cache
def t_quantile(n: int) -> float:
    """t(LEVEL, n - 1): the one-sided multiplier of the standard error with n seeds (cached: the
    seeds-needed search asks for every n up to 50)."""
    from scipy import stats

    return float(stats.t.ppf(LEVEL, n - 1))


def _on_threshold(bound: float, threshold: float) -> bool:
    return abs(bound - threshold) <= ON_THRESHOLD * max(1.0, abs(threshold))


def decide(low: float, high: float, side: Side, threshold: float) -> str:
    """The three-way verdict from the two one-sided bounds."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "INCONCLUSIVE"
    near, far = (low, high) if side == ">=" else (high, low)
    holds = near > threshold if side == ">=" else near < threshold
    refuted = far < threshold if side == ">=" else far > threshold
    if holds and not _on_threshold(near, threshold):
        return "PASS"
    if refuted and not _on_threshold(far, threshold):
        return "FAIL"
    return "INCONCLUSIVE"


def seeds_needed(center: float, spread: float, threshold: float) -> float:
    """Smallest n with t(0.95, n-1) spread / sqrt(n) < |center - threshold|: how many seeds make the
    verdict decisive if further seeds look like these (same mean and standard deviation, on the scale
    the interval is computed on). ``inf`` when more than ``MAX_SEEDS_NEEDED``."""
    distance = abs(center - threshold)
    if not (math.isfinite(distance) and math.isfinite(spread)) or distance == 0:
        return math.inf
    for n in range(2, MAX_SEEDS_NEEDED + 1):
        if t_quantile(n) * spread / math.sqrt(n) < distance:
            return float(n)
    return math.inf


def _t_evidence(values: np.ndarray, side: Side, threshold: float, back: Callable[[float], float] = float) -> Evidence:
    """t-bounds of ``values`` (already on the working scale, with ``threshold`` on it too); ``back``
    maps the estimate and bounds to the statistic's own scale."""
    n = len(values)
    if n == 0:
        return Evidence(math.nan, math.nan, math.nan, 0, "INCONCLUSIVE", math.nan, "no seed has a value")
    center = float(np.mean(values))
    if n < 2:
        return Evidence(back(center), math.nan, math.nan, n, "INCONCLUSIVE", math.nan, "one seed: no interval")
    return _bounded(center, float(np.std(values, ddof=1)), n, side, threshold, back)


def _bounded(
    center: float, spread: float, n: int, side: Side, threshold: float, back: Callable[[float], float] = float
) -> Evidence:
    """The evidence of an estimate ``center`` with standard deviation ``spread`` over ``n`` seeds (both on
    the working scale, ``threshold`` too): center +- t(0.95, n-1) spread / sqrt(n), mapped back by ``back``."""
    half = t_quantile(n) * spread / math.sqrt(n)
    return _evidence(
        back(center),
        back(center - half),
        back(center + half),
        n,
        side,
        back(threshold),
        seeds_needed(center, spread, threshold),
    )


def _evidence(
    estimate: float, low: float, high: float, n: int, side: Side, threshold: float, needed: float
) -> Evidence:
    verdict = decide(low, high, side, threshold)
    if verdict != "INCONCLUSIVE":
        return Evidence(estimate, low, high, n, verdict, float(n), "")
    settle = (
        "more than 50 seeds would be needed: the estimate sits on its threshold"
        if math.isinf(needed)
        else f"{needed:.0f} seeds would settle it"
    )
    reason = f"the interval [{low:.4g}, {high:.4g}] contains the threshold {threshold:.4g}; {settle}"
    return Evidence(estimate, low, high, n, verdict, needed, reason)


def t_evidence(values: Sequence[float], side: Side, threshold: float) -> Evidence:
    """``t`` interval kind (module docstring)."""
    return _t_evidence(np.asarray(values, dtype=np.float64), side, threshold)


def log_t_evidence(values: Sequence[float], side: Side, threshold: float, floor: float) -> Evidence:
    """``log_t`` interval kind: t-bounds on log(max(value, floor)), transformed back."""
    if threshold <= 0 or floor <= 0:
        raise ValueError(f"a log-scale claim needs a positive threshold and floor (got {threshold}, {floor})")
    logs = np.log(np.maximum(np.asarray(values, dtype=np.float64), floor))
    return _t_evidence(logs, side, math.log(threshold), back=math.exp)


def jackknife_evidence(statistic: Callable[[list], float], seeds: Sequence, side: Side, threshold: float) -> Evidence:
    """``jackknife`` interval kind: ``statistic(seeds)`` with the jackknife standard error over seeds."""
    seeds = list(seeds)
    n = len(seeds)
    estimate = float(statistic(seeds))
    if n < 3:  # leave-one-out of two seeds leaves a single seed: no spread to estimate
        return Evidence(
            estimate, math.nan, math.nan, n, "INCONCLUSIVE", math.nan, f"{n} seeds: the jackknife needs at least 3"
        )
    left_out = np.array([statistic(seeds[:i] + seeds[i + 1 :]) for i in range(n)], dtype=np.float64)
    pseudo = n * estimate - (n - 1) * left_out
    return _bounded(estimate, float(np.std(pseudo, ddof=1)), n, side, threshold)


def exact_holds(worst: float, side: Side, threshold: float) -> bool:
    """An ``exact`` property holds when its worst seed's value is on the threshold's side (the threshold
    is itself the float-rounding tolerance)."""
    return worst >= threshold if side == ">=" else worst <= threshold


def exact_evidence(values: Sequence[float], side: Side, threshold: float) -> Evidence:
    """``exact`` interval kind: PASS when every seed's value is on the threshold's side, else FAIL; the
    estimate is the worst seed's value and the reported interval the range over seeds."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return Evidence(math.nan, math.nan, math.nan, 0, "INCONCLUSIVE", math.nan, "no seed has a value")
    worst = float(values.min() if side == ">=" else values.max())
    holds = exact_holds(worst, side, threshold)
    n = len(values)
    reason = "" if holds else f"the worst seed's value {worst:.4g} is not {side} {threshold:.4g}"
    return Evidence(worst, float(values.min()), float(values.max()), n, "PASS" if holds else "FAIL", float(n), reason)
