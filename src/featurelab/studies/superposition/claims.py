"""The claims of notebook 001 (Elhage et al. 2022 on MNIST), measured on the superposition study's runs.

Each claim is a :class:`~featurelab.claims.Claim`: one per-seed statistic read from the aggregated
tables, a threshold from ``superposition.claims`` in the config, and the preconditions without which the
claim says nothing about a classifier's features (docs/superposition.md quotes each claim's source and
says why each interval kind was chosen).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from featurelab.claims import Claim, NotRun, Precondition, Tables, all_of, judge_claims

TITLE = "superposition: claims of notebook 001 (Elhage et al. 2022 on MNIST)"

# --------------------------------------------------------------------------------------------------------
# Per-seed statistics (a Series indexed by seed)


def final_test_accuracy(tables: Tables) -> pd.Series:
    """The classifier's test accuracy after its last epoch."""
    training = tables["training"]
    acc = training[
        (training["phase"] == "classifier") & (training["split"] == "test") & (training["metric"] == "accuracy")
    ]
    return acc[acc["epoch"] == acc["epoch"].max()].set_index("seed")["value"]


def remaining_loss(tables: Tables) -> pd.Series:
    """The autoencoder's full-train-set MSE after its last epoch over its MSE at epoch 0 (before any
    step): 1 minus the relative drop."""
    training = tables["training"]
    loss = training[
        (training["phase"] == "autoencoder") & (training["split"] == "train") & (training["metric"] == "loss")
    ].pivot(index="seed", columns="epoch", values="value")
    return loss[loss.columns.max()] / loss[0]


def run_level(tables: Tables, metric: str, epoch: int | None = None) -> pd.Series:
    """A run-level metric of the features table (feature = -1) at ``epoch`` (the last recorded by default)."""
    features = tables["features"]
    epoch = int(features["epoch"].max()) if epoch is None else epoch
    rows = features[(features["epoch"] == epoch) & (features["feature"] == -1) & (features["metric"] == metric)]
    return rows.set_index("seed")["value"]


def spearman_last(tables: Tables) -> pd.Series:
    """Spearman rho of importance and ||W_i|| over the 49 features at the last recorded epoch."""
    return run_level(tables, "spearman_importance_w_norm")


def spearman_gain(tables: Tables) -> pd.Series:
    """Spearman rho at the last recorded epoch minus rho of the same seed's untrained autoencoder (epoch 0)."""
    if not (tables["features"]["epoch"] == 0).any():
        raise NotRun(
            "epoch 0 (the untrained autoencoder, this claim's control) is not in record_epochs: not in the config"
        )
    return spearman_last(tables) - run_level(tables, "spearman_importance_w_norm", epoch=0)


def features_for_mass(tables: Tables) -> pd.Series:
    """How many of the most important features carry the analysis' importance mass (last recorded epoch)."""
    return run_level(tables, "features_for_mass")


# --------------------------------------------------------------------------------------------------------
# Preconditions


def classifier_trained(cfg: Mapping[str, Any]) -> Precondition:
    """Without a trained classifier the 49 "features" are a random projection of the pixels, and
    compressing them says nothing about a classifier's features."""
    least = float(cfg["trained_min_accuracy"])
    return Precondition(
        f"classifier trained (test accuracy >= {least:g}; chance 0.1)",
        lambda tables: final_test_accuracy(tables) >= least,
    )


def autoencoder_trained(cfg: Mapping[str, Any]) -> Precondition:
    """Without a trained autoencoder importance and ||W_i|| are those of the random initialisation."""
    least = float(cfg["trained_min_loss_drop"])
    return Precondition(
        f"autoencoder trained (train MSE fell >= {least:.0%})",
        lambda tables: remaining_loss(tables) <= 1.0 - least,
    )


def some_importance(tables: Tables) -> pd.Series:
    """At least one unit carries positive importance: otherwise the count of features holding it is 0,
    which is no reading of "around 2 features"."""
    return features_for_mass(tables) >= 1


# --------------------------------------------------------------------------------------------------------
# The claims


def declare(cfg: Mapping[str, Any], importance_mass: float) -> list[Claim]:
    """The study's claims, thresholds from ``cfg`` (the config's ``superposition.claims``) and the
    importance mass the ``features_for_mass`` column was computed with."""
    accuracy, drop, rho = float(cfg["min_test_accuracy"]), float(cfg["min_loss_drop"]), float(cfg["min_spearman"])
    around, tolerance = int(cfg["notebook_dominant_features"]), int(cfg["dominant_features_tolerance"])
    clf = classifier_trained(cfg)
    both = (clf, autoencoder_trained(cfg))
    return [
        Claim(
            "classifier_accurate",
            f"the classifier's test accuracy after phase 1 is >= {accuracy:g}",
            ">=",
            accuracy,
            "Our reading of notebook 001's printout: 0.9274 after epoch 1 (938 steps on full MNIST), 0.9653 "
            "after epoch 10; the threshold is 'at least the notebook's first epoch', a full-MNIST number.",
            statistic=final_test_accuracy,
            paper_value=0.9653,
        ),
        Claim(
            "reconstruction_improves",
            f"the autoencoder's train MSE falls by >= {drop:.0%} over its training "
            f"(last epoch / epoch 0 <= {1 - drop:g}; full train set)",
            "<=",
            1.0 - drop,
            f"Our reading. Notebook 001 printed one mini-batch's MSE: 0.2728 after epoch 1, 0.1584 after "
            f"epoch 20 (ratio 0.58, from epoch 1, not 0); a fall of {drop:.0%} from epoch 0 is a conservative "
            "share of that for runs of 15x fewer steps.",
            statistic=remaining_loss,
            interval="log_t",
            paper_value=0.1584 / 0.2728,
            precondition=clf,
        ),
        Claim(
            "importance_tracks_w_norm",
            f"importance and ||W_i|| are rank-correlated over the 49 features (Spearman >= {rho:g}, last "
            "recorded epoch)",
            ">=",
            rho,
            "Notebook 001: 'higher ||Wi|| as its importance is higher' (read off a plot, no number). Our "
            f"reading of 'higher': the null SD of Spearman's rho for 49 ranks is 1/sqrt(48) = 0.144, so {rho:g} "
            "is about two null SDs.",
            statistic=spearman_last,
            precondition=all_of(*both, joiner=" and "),
        ),
        Claim(
            "importance_tracks_w_norm_vs_init",
            f"training builds that correlation: Spearman rho at the last recorded epoch exceeds the same "
            f"seed's untrained autoencoder's (epoch 0) by >= {rho:g}",
            ">=",
            rho,
            "Our reading: the control of importance_tracks_w_norm. The notebook shows the trained model only; "
            "the gain asked of training is the size asked of the correlation itself.",
            statistic=spearman_gain,
            precondition=all_of(*both, joiner=" and "),
        ),
        Claim(
            "about_two_features",
            f"about {around} features carry >= {importance_mass:.0%} of the importance "
            f"(mean count of top features <= {around} + {tolerance})",
            "<=",
            float(around + tolerance),
            f"Notebook 001: '49 features are aggregated into around 2 features over 20 epochs training.' Our "
            f"reading of 'around': up to {tolerance} more; of 'aggregated into': the top features holding "
            f"{importance_mass:.0%} of the positive importance (analysis.importance_mass).",
            statistic=features_for_mass,
            paper_value=float(around),
            precondition=all_of(
                *both, Precondition("some unit carries positive importance", some_importance), joiner=" and "
            ),
        ),
    ]


def study_seeds(tables: Tables) -> list:
    """Every seed of the training and features tables."""
    return sorted(set(tables["training"]["seed"].unique()) | set(tables["features"]["seed"].unique()))


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    cfg = params["claims"]
    claims = declare(cfg, float(params["importance_mass"]))
    return judge_claims(claims, tables, study_seeds(tables), float(cfg["min_fraction_of_seeds"]))
