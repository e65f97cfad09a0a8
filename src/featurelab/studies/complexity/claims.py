"""The claims of Lampinen, Chan & Hermann (2024), judged on the complexity study's runs.

Each claim is declared once (:func:`declare`) and judged by :func:`featurelab.claims.judge_claims`: one
number per seed, a one-sided 95 % t-bound, and the threshold's written source (docs/complexity.md,
"Claims and thresholds", quotes the sentence each comes from). Every statistic here is a per-seed,
roughly symmetric number (an accuracy, a variance share, a gap of two shares of the same run), so every
claim uses the ``t`` interval.

The claims about the reference pair's representation and learning order need both of its features
learned: a network that never learned the hard feature represents the easy one more trivially, and
that is no evidence for the paper. Only the seeds in which both were learned count, and the claim is
FAIL when fewer than ``min_fraction_of_seeds`` of the seeds learned both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from featurelab.claims import Claim, NotRun, Precondition, Tables, judge_claims
from featurelab.studies.complexity.analysis import final_values
from featurelab.studies.complexity.train import VERDICT_TOLERANCE, pair_name

#: The easy feature of the reference pair; the other one is the hard feature.
EASY = "linear"
#: The first author's summary of the paper, the source of the anchor values (docs/complexity.md).
SUMMARY = "Lampinen's summary of the paper (Bluesky, 2025-08-05): easy 55 %, hard 5 % of the representation's variance"

TITLE = "complexity: claims of Lampinen, Chan & Hermann (2024)"


def _by_feature(runs: pd.DataFrame, condition: str, metric: str) -> pd.DataFrame:
    """``metric`` on the test split, one column per feature, indexed by (seed, epoch)."""
    sel = runs[
        (runs["condition"] == condition)
        & (runs["split"] == "test")
        & (runs["metric"] == metric)
        & (runs["feature_index"] >= 0)
    ]
    if sel.empty:
        raise NotRun(f"pair {condition} is not in the config (complexity.feature_pairs)")
    return sel.set_index(["seed", "epoch", "feature"])["value"].unstack("feature")


def _final(runs: pd.DataFrame, condition: str, metric: str) -> pd.DataFrame:
    """``metric`` at each seed's last epoch (runs may stop early), one column per feature."""
    return _by_feature(final_values(runs[runs["condition"] == condition]), condition, metric).droplevel("epoch")


def is_learned(accuracy: Any, learned_accuracy: float) -> Any:
    """The stopping rule's test of "learned" (``all_features_learned``), so that a run it stopped as
    learned counts as learned here: accuracies are k/n in float32, and one sitting on the bar must not
    fall below it by its last bits."""
    return accuracy >= learned_accuracy - VERDICT_TOLERANCE


def both_learned(condition: str, learned_accuracy: float) -> Precondition:
    """Per seed: every feature of ``condition`` ends with test accuracy >= ``learned_accuracy``."""

    def met(tables: Tables) -> pd.Series:
        return is_learned(_final(tables["runs"], condition, "accuracy"), learned_accuracy).all(axis=1)

    return Precondition(f"both features learned (final test accuracy >= {learned_accuracy})", met)


def worse_final_accuracy(condition: str):
    """Per seed: the worse feature's final test accuracy."""
    return lambda tables: _final(tables["runs"], condition, "accuracy").min(axis=1)


def variance_share(condition: str, feature: str):
    """Per seed: the final share of the representation's variance that ``feature`` explains (R2_weighted)."""
    return lambda tables: _final(tables["runs"], condition, "r2_weighted")[feature]


def variance_gap(condition: str, easy: str, hard: str):
    """Per seed: R2_weighted(easy) - R2_weighted(hard) at the end of training."""

    def gap(tables: Tables) -> pd.Series:
        r2 = _final(tables["runs"], condition, "r2_weighted")
        return r2[easy] - r2[hard]

    return gap


def hard_accuracy_when_easy_learned(condition: str, easy: str, hard: str, learned_accuracy: float):
    """Per seed: the hard feature's test accuracy at the first epoch the easy one is learned (NaN when
    it never is)."""

    def accuracy(tables: Tables) -> pd.Series:
        curves = _by_feature(tables["runs"], condition, "accuracy").reset_index().sort_values(["seed", "epoch"])
        learned = curves[is_learned(curves[easy], learned_accuracy)]
        first = learned.groupby("seed")[hard].first()
        return first.reindex(curves["seed"].unique())

    return accuracy


def learned_claims(conditions: list[str], learned_accuracy: float) -> list[Claim]:
    """Per configured pair: both features are learned (the paper's premise, "learned equally well")."""
    return [
        Claim(
            claim="both_features_learned",
            condition=condition,
            statement=f"every feature reaches test accuracy >= {learned_accuracy} by the end of training "
            "(statistic: the worse feature's final test accuracy)",
            side=">=",
            threshold=learned_accuracy,
            statistic=worse_final_accuracy(condition),
            source="our reading of the abstract's 'even if all features are learned equally well' (the "
            "paper's features reach ~100 %): at most 1 % test errors",
        )
        for condition in conditions
    ]


def reference_claims(cfg: Mapping[str, Any]) -> list[Claim]:
    """The reference pair's representation and learning-order claims, each needing both features learned."""
    pair = list(cfg["reference_pair"])
    condition, hard = pair_name(pair), next(f for f in pair if f != EASY)
    learned_accuracy = float(cfg["learned_accuracy"])
    anchor = cfg["paper_anchor"]
    share, tolerance = float(anchor["easy_share"]), float(anchor["easy_tolerance"])
    hard_max = float(anchor["hard_max_share"])
    chance = 0.5 + float(cfg["chance_margin"])
    common = dict(condition=condition, precondition=both_learned(condition, learned_accuracy))
    easy_share = variance_share(condition, EASY)
    return [
        Claim(
            claim="easy_feature_dominates_variance",
            statement=f"{EASY} explains more of the representation's variance than {hard}: "
            f"R2_weighted({EASY}) - R2_weighted({hard}) >= {cfg['min_variance_gap']}",
            side=">=",
            threshold=float(cfg["min_variance_gap"]),
            statistic=variance_gap(condition, EASY, hard),
            paper_value=0.50,
            source="our reading of the abstract's 'simpler to compute ... represented more strongly': a "
            f"bias of at least {float(cfg['min_variance_gap']):.0%} of the variance, a fraction of the 50-point "
            f"gap (55 % - 5 %) of {SUMMARY}",
            **common,
        ),
        Claim(
            claim="easy_feature_learned_first",
            statement=f"when {EASY} first reaches test accuracy {learned_accuracy}, {hard} is still near "
            f"chance (test accuracy <= {chance})",
            side="<=",
            threshold=chance,
            statistic=hard_accuracy_when_easy_learned(condition, EASY, hard, learned_accuracy),
            source="our reading of the paper's learning-order account (Fig. 2: the easy feature's variance "
            f"rises first): chance 0.5 plus a {float(cfg['chance_margin'])} margin (0.1 is > 6 sd of a chance "
            "accuracy on 1024 test examples)",
            **common,
        ),
        Claim(
            claim="paper_anchor_easy_variance_at_least",
            statement=f"{EASY} explains >= {share - tolerance:.2f} of the representation's variance "
            f"(R2_weighted; the paper: {share:.0%}, within our band of +- {tolerance:.2f}: lower side)",
            side=">=",
            threshold=share - tolerance,
            statistic=easy_share,
            paper_value=share,
            source=f"{SUMMARY}; +- {tolerance:.2f}: our reading (the port's optimizer and stopping differ "
            "from the paper's)",
            **common,
        ),
        Claim(
            claim="paper_anchor_easy_variance_at_most",
            statement=f"{EASY} explains <= {share + tolerance:.2f} of the representation's variance "
            f"(R2_weighted; the paper: {share:.0%}, within our band of +- {tolerance:.2f}: upper side)",
            side="<=",
            threshold=share + tolerance,
            statistic=easy_share,
            paper_value=share,
            source=f"{SUMMARY}; +- {tolerance:.2f}: our reading (as for the lower side)",
            **common,
        ),
        Claim(
            claim="paper_anchor_hard_variance",
            statement=f"{hard} explains <= {hard_max:.2f} of the representation's variance (R2_weighted)",
            side="<=",
            threshold=hard_max,
            statistic=variance_share(condition, hard),
            paper_value=0.05,
            source=f"{SUMMARY}; the 5 % plus 10 points: our reading (as for the easy feature)",
            **common,
        ),
    ]


def declare(cfg: Mapping[str, Any], conditions: list[str]) -> list[Claim]:
    """Every claim of the study, for the configured pairs ``conditions``."""
    return learned_claims(conditions, float(cfg["learned_accuracy"])) + reference_claims(cfg)


def evaluate_claims(runs: pd.DataFrame, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table of ``runs`` (the aggregated runs table) under the config's ``claims`` section."""
    conditions = sorted(runs["condition"].unique())
    seeds = sorted(runs["seed"].unique())
    claims = declare(cfg, conditions)
    return judge_claims(claims, {"runs": runs}, seeds, min_share=float(cfg["min_fraction_of_seeds"]))


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    return evaluate_claims(tables["runs"], params["claims"])
