"""The claims of Lampinen, Chan & Hermann (2024), measured on the complexity study's runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from featurelab.claims import claim_row, claims_frame, seeds_needed
from featurelab.studies.complexity.analysis import final_values
from featurelab.studies.complexity.train import VERDICT_TOLERANCE


def _pivot(runs: pd.DataFrame, condition: str, split: str, metric: str) -> pd.DataFrame:
    sel = runs[
        (runs["condition"] == condition)
        & (runs["split"] == split)
        & (runs["metric"] == metric)
        & (runs["feature_index"] >= 0)
    ]
    return sel.pivot_table(index=["seed", "epoch"], columns="feature", values="value", aggfunc="first")


def at_least(value: Any, threshold: float) -> Any:
    """``value >= threshold`` that the last bits of a float cannot flip (``VERDICT_TOLERANCE``)."""
    return np.asarray(value) >= threshold - VERDICT_TOLERANCE


def at_most(value: Any, threshold: float) -> Any:
    """``value <= threshold``, robust like :func:`at_least`."""
    return np.asarray(value) <= threshold + VERDICT_TOLERANCE


def above(value: Any, threshold: float) -> Any:
    """``value > threshold`` by more than float noise: a tie is not "more"."""
    return np.asarray(value) > threshold + VERDICT_TOLERANCE


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def learned_seeds(finals: pd.DataFrame, condition: str, learned_accuracy: float) -> pd.Series:
    """Per seed of ``condition``: did every feature end with test accuracy >= ``learned_accuracy``?"""
    acc = _pivot(finals, condition, "test", "accuracy").droplevel("epoch")
    return pd.Series(at_least(acc, learned_accuracy).all(axis=1), index=acc.index)


def evaluate_claims(runs: pd.DataFrame, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """One row per claim of the paper: what was measured, the threshold, and whether it holds.

    A claim holds for a configuration when it holds in at least ``ceil(min_fraction_of_seeds * n)``
    of its n seeds (``4 of 5`` by default), plus any magnitude threshold on the mean. Every claim about
    the reference pair's representation or learning order has the precondition "both features learned"
    and counts only the seeds in which both were learned: a network that never learned the hard
    feature trivially represents the easy one more (issue 12), and that must not count as evidence.
    """
    rows: list[dict[str, Any]] = []
    acc_needed = float(cfg["learned_accuracy"])
    fraction = float(cfg["min_fraction_of_seeds"])
    finals = final_values(runs)

    for condition in sorted(runs["condition"].unique()):
        acc = _pivot(finals, condition, "test", "accuracy")
        ok = learned_seeds(finals, condition, acc_needed)
        rows.append(
            claim_row(
                "both_features_learned",
                condition,
                f"every feature reaches test accuracy >= {acc_needed} by the end of training",
                measured=float(acc.min(axis=1).mean()),
                measured_what="mean over seeds of the worse feature's final test accuracy",
                threshold=acc_needed,
                seeds_passing=int(ok.sum()),
                n_seeds=len(ok),
                holds=ok.sum() >= seeds_needed(fraction, len(ok)),
                missed_reason=f"both features learned in {int(ok.sum())} of {len(ok)} seeds, "
                f"{seeds_needed(fraction, len(ok))} needed",
            )
        )

    reference = "-vs-".join(cfg["reference_pair"])
    easy = "linear"
    hard = next(f for f in cfg["reference_pair"] if f != easy)
    learned = learned_seeds(finals, reference, acc_needed)
    n = len(learned)
    needed = seeds_needed(fraction, n)
    counted = learned[learned].index  # the seeds every precondition-bearing claim counts
    precondition = f"both features learned (final test accuracy >= {acc_needed}) in >= {needed} of {n} seeds"
    precondition_met = len(counted) >= needed
    unmet = f"both features learned in only {len(counted)} of {n} seeds"
    common = dict(n_seeds=n, precondition=precondition, precondition_met=precondition_met, unmet_reason=unmet)

    r2 = _pivot(finals, reference, "test", "r2_weighted").droplevel("epoch").loc[counted]
    gap = (r2[easy] - r2[hard]).to_numpy()
    min_gap = float(cfg["min_variance_gap"])
    seeds_with_gap = int(above(gap, 0.0).sum())
    rows.append(
        claim_row(
            "easy_feature_dominates_variance",
            reference,
            f"{easy} explains more of the representation's variance than {hard} "
            f"(variance-weighted R^2), mean gap >= {min_gap}",
            measured=_mean(gap),
            measured_what="mean over the learned seeds of R2_weighted(easy) - R2_weighted(hard)",
            threshold=min_gap,
            seeds_passing=seeds_with_gap,
            holds=seeds_with_gap >= needed and bool(at_least(_mean(gap), min_gap)),
            **common,
        )
    )

    acc_curve = _pivot(runs, reference, "test", "accuracy").reset_index()
    chance = 0.5 + float(cfg["chance_margin"])
    hard_at_easy = []
    for seed in counted:
        curve = acc_curve[acc_curve["seed"] == seed].sort_values("epoch")
        first = curve[at_least(curve[easy], acc_needed)]
        hard_at_easy.append(float(first[hard].iloc[0]) if not first.empty else np.nan)
    hard_at_easy = np.asarray(hard_at_easy, dtype=float)
    first_passing = int(at_most(hard_at_easy[~np.isnan(hard_at_easy)], chance).sum())
    rows.append(
        claim_row(
            "easy_feature_learned_first",
            reference,
            f"when {easy} first reaches test accuracy {acc_needed}, {hard} is still at chance (<= {chance})",
            measured=_mean(hard_at_easy[~np.isnan(hard_at_easy)]),
            measured_what=f"mean over the learned seeds of {hard}'s test accuracy at that epoch",
            threshold=chance,
            seeds_passing=first_passing,
            holds=first_passing >= needed,
            **common,
        )
    )

    anchor = cfg["paper_anchor"]
    share, tolerance, hard_max = (
        float(anchor["easy_share"]),
        float(anchor["easy_tolerance"]),
        float(anchor["hard_max_share"]),
    )
    low, high = share - tolerance, share + tolerance

    def anchor_row(claim: str, feature: str, statement: str, threshold: float, ok: pd.Series, band: str) -> dict:
        passing = int(ok.sum())
        return claim_row(
            claim,
            reference,
            f"{statement} (variance-weighted R^2; the authors' summary of the paper)",
            measured=_mean(r2[feature].to_numpy()),
            measured_what=f"mean over the learned seeds of R2_weighted({feature})",
            threshold=threshold,
            seeds_passing=passing,
            holds=passing >= needed,
            missed_reason=f"{passing} of {n} seeds {band}, {needed} needed",
            **common,
        )

    rows.append(
        anchor_row(
            "paper_anchor_easy_variance",
            easy,
            f"{easy} explains {share:.0%} +- {tolerance:.0%} of the representation's variance (paper: 55 %)",
            share,
            at_least(r2[easy], low) & at_most(r2[easy], high),
            f"within [{low:.2f}, {high:.2f}]",
        )
    )
    rows.append(
        anchor_row(
            "paper_anchor_hard_variance",
            hard,
            f"{hard} explains <= {hard_max:.0%} of the representation's variance (paper: 5 %)",
            hard_max,
            at_most(r2[hard], hard_max),
            f"<= {hard_max:.2f}",
        )
    )
    return claims_frame(rows)


TITLE = "complexity: claims of Lampinen, Chan & Hermann (2024)"


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    return evaluate_claims(tables["runs"], params["claims"])
