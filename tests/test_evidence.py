"""The verdict framework's intervals: calibrated on simulated seeds, and the three verdicts where the
truth is known from the construction.

Calibration (the bar every interval kind the studies use must clear): with the true value exactly at
the threshold, PASS in at most 5 % of 2,000 simulated experiments; with a true effect of 2 standard
deviations and 5 seeds, PASS in at least 80 %.

The one-sided 95 % t-bound has a false-PASS rate of exactly 5 % when the seeds are normal, so the rate
seen in 2,000 simulated experiments scatters around 5 % with a Monte Carlo sd of 0.49 points: the size
check allows that scatter (``SIZE_BAR``, the one-sided 99 % margin, 6.1 %), and the simulated rate of an
interval that is too narrow (a z- instead of a t-bound: 8-9 % at 5 seeds) is far above it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from featurelab.evidence import (
    decide,
    exact_evidence,
    jackknife_evidence,
    log_t_evidence,
    seeds_needed,
    t_evidence,
)

TRIALS = 2000
SEEDS = 5
#: At most 5 % false PASSes, up to the Monte Carlo scatter of TRIALS experiments (module docstring).
SIZE_BAR = 0.05 + 2.326 * math.sqrt(0.05 * 0.95 / TRIALS)


def _pass_rate(verdicts: list[str]) -> float:
    return sum(v == "PASS" for v in verdicts) / len(verdicts)


def _normal_t(rng: np.random.Generator, true: float, side: str) -> list[str]:
    draws = rng.normal(true, 1.0, size=(TRIALS, SEEDS))
    return [t_evidence(row, side, 0.0).verdict for row in draws]


def _lognormal_log_t(rng: np.random.Generator, effect_sd: float, side: str) -> list[str]:
    """Ratios around a threshold of 1.5 whose logs have sd 0.4: the true geometric mean is 1.5 x
    exp(+-effect_sd x 0.4)."""
    sign = 1 if side == ">=" else -1
    logs = rng.normal(math.log(1.5) + sign * effect_sd * 0.4, 0.4, size=(TRIALS, SEEDS))
    return [log_t_evidence(np.exp(row), side, 1.5, floor=1e-12).verdict for row in logs]


def _ratio_of_means_jackknife(rng: np.random.Generator, effect_sd: float, side: str) -> list[str]:
    """A statistic defined only across seeds: mean(a) / mean(b) over the chosen seeds (b around 10 with
    sd 0.5, a around 10 r). Per-seed ratios have sd ~0.07 at r = 1, so the effect is 2 x 0.07."""
    sign = 1 if side == ">=" else -1
    ratio = 1.0 + sign * effect_sd * 0.0707
    a = rng.normal(10.0 * ratio, 0.5, size=(TRIALS, SEEDS))
    b = rng.normal(10.0, 0.5, size=(TRIALS, SEEDS))

    def ratio_of_means(row_a: np.ndarray, row_b: np.ndarray):
        return lambda seeds: row_a[list(seeds)].mean() / row_b[list(seeds)].mean()

    return [jackknife_evidence(ratio_of_means(ra, rb), range(SEEDS), side, 1.0).verdict for ra, rb in zip(a, b)]


@pytest.mark.parametrize("side", [">=", "<="])
def test_t_interval_is_calibrated(side: str) -> None:
    rng = np.random.default_rng(0)
    assert _pass_rate(_normal_t(rng, 0.0, side)) <= SIZE_BAR
    assert _pass_rate(_normal_t(rng, 2.0 if side == ">=" else -2.0, side)) >= 0.80


@pytest.mark.parametrize("side", [">=", "<="])
def test_log_t_interval_is_calibrated(side: str) -> None:
    rng = np.random.default_rng(1)
    assert _pass_rate(_lognormal_log_t(rng, 0.0, side)) <= SIZE_BAR
    assert _pass_rate(_lognormal_log_t(rng, 2.0, side)) >= 0.80


@pytest.mark.parametrize("side", [">=", "<="])
def test_jackknife_interval_is_calibrated(side: str) -> None:
    rng = np.random.default_rng(2)
    assert _pass_rate(_ratio_of_means_jackknife(rng, 0.0, side)) <= SIZE_BAR
    assert _pass_rate(_ratio_of_means_jackknife(rng, 2.0, side)) >= 0.80


def test_a_borderline_share_is_inconclusive_with_seven_seeds_needed() -> None:
    """complexity's hard-feature share of five seeds against "<= 0.15": neither confirmed nor refuted."""
    evidence = t_evidence([0.234, 0.205, 0.257, 0.084, 0.267], "<=", 0.15)
    assert evidence.verdict == "INCONCLUSIVE"
    assert (round(evidence.ci_low, 3), round(evidence.ci_high, 3)) == (0.139, 0.280)
    assert evidence.seeds_needed == 7


def test_three_verdicts_both_sides() -> None:
    assert t_evidence([1.0, 1.1, 0.9, 1.05, 0.95], ">=", 0.5).verdict == "PASS"
    assert t_evidence([1.0, 1.1, 0.9, 1.05, 0.95], ">=", 1.5).verdict == "FAIL"
    assert t_evidence([1.0, 1.1, 0.9, 1.05, 0.95], ">=", 1.0).verdict == "INCONCLUSIVE"
    assert t_evidence([1.0, 1.1, 0.9, 1.05, 0.95], "<=", 1.5).verdict == "PASS"
    assert t_evidence([1.0, 1.1, 0.9, 1.05, 0.95], "<=", 0.5).verdict == "FAIL"


def test_a_bound_on_the_threshold_is_not_decisive() -> None:
    """Seeds without spread whose value equals the threshold up to float rounding: neither PASS nor
    FAIL, whatever the last bits say."""
    for value in (0.99, 0.99 + 1e-15, 0.99 - 1e-15):
        assert t_evidence([value] * 4, ">=", 0.99).verdict == "INCONCLUSIVE"
        assert decide(value, value, "<=", 0.99) == "INCONCLUSIVE"


def test_one_seed_gives_no_interval() -> None:
    evidence = t_evidence([0.5], ">=", 0.1)
    assert evidence.verdict == "INCONCLUSIVE" and "one seed" in evidence.reason


def test_log_t_needs_positive_threshold_and_floors_zeros() -> None:
    with pytest.raises(ValueError, match="positive threshold"):
        log_t_evidence([1.0, 2.0], ">=", 0.0, floor=1e-12)
    assert log_t_evidence([0.0, 0.0, 0.0], "<=", 1e-6, floor=1e-12).verdict == "PASS"


def test_exact_passes_only_when_every_seed_holds() -> None:
    assert exact_evidence([1e-8, 2e-8, 0.0], "<=", 1e-6).verdict == "PASS"
    failing = exact_evidence([1e-8, 2e-3, 0.0], "<=", 1e-6)
    assert failing.verdict == "FAIL" and failing.estimate == 2e-3


def test_seeds_needed_grows_as_the_estimate_nears_the_threshold() -> None:
    assert seeds_needed(0.5, 0.1, 0.0) == 2
    assert seeds_needed(0.2, 0.1, 0.0) < seeds_needed(0.05, 0.1, 0.0)
    assert math.isinf(seeds_needed(0.0, 0.1, 0.0))
