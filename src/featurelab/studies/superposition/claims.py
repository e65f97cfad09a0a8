"""The claims of notebook 001 (Elhage et al. 2022 on MNIST), measured on the superposition study's runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from featurelab.claims import claim_row, claims_frame, seeds_needed

#: Continuous measured values are compared with their thresholds at this many decimals (the numbers of
#: the claims table), counts as integers: a value that float rounding puts a few ulps either side of a
#: threshold (an accuracy of 930/1000 computed in float32) is judged as the number it stands for, and a
#: perturbation of the inputs at the 1e-6 relative level cannot flip a verdict unless the value lies
#: within 1e-6 of a rounding midpoint half a step below the threshold (tests/test_superposition_claims.py).
DECIMALS = 4


def at_least(value: float, threshold: float) -> bool:
    """``value >= threshold`` at :data:`DECIMALS` decimals (False for NaN, i.e. a missing seed)."""
    return not math.isnan(value) and round(value, DECIMALS) >= round(threshold, DECIMALS)


def count_at_most(value: float, limit: float) -> bool:
    """A count (stored as a float) ``<= limit``, the count rounded to an integer first."""
    return not math.isnan(value) and round(value) <= limit


def count_at_least(value: float, limit: float) -> bool:
    """A count (stored as a float) ``>= limit``, the count rounded to an integer first."""
    return not math.isnan(value) and round(value) >= limit


def _seed_claim(
    claim: str,
    statement: str,
    values: pd.Series,
    holds: pd.Series,
    threshold: float,
    what: str,
    need: int,
    precondition: str = "",
    pre: pd.Series | None = None,
) -> dict[str, Any]:
    """One row judged seed by seed: a seed counts when its precondition holds and it passes the claim;
    the claim holds when ``need`` seeds count, its precondition when ``need`` seeds meet it."""
    n = int(len(values))
    pre = pd.Series(True, index=values.index) if pre is None else pre.reindex(values.index, fill_value=False)
    counted = holds & pre
    n_pre, n_ok = int(pre.sum()), int(counted.sum())
    return claim_row(
        claim,
        "all seeds",
        statement,
        measured=float(values.mean()),
        measured_what=what,
        threshold=threshold,
        seeds_passing=n_ok,
        n_seeds=n,
        holds=n_ok >= need,
        precondition=precondition,
        precondition_met=n_pre >= need,
        unmet_reason=f"{precondition} in {n_pre}/{n} seeds, {need} needed",
        missed_reason=f"{n_ok}/{n} seeds pass, {need} needed (seed values "
        + ", ".join(f"{v:.4g}" for v in values)
        + ")",
    )


def per_seed_inputs(training: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """What the claims read, one row per seed: final classifier test accuracy, relative drop of the
    autoencoder's train MSE (epoch 0 -> last), and the run-level metrics of the last recorded epoch.
    A seed missing from a table gets NaN there (and then passes nothing)."""
    clf = training[
        (training["phase"] == "classifier") & (training["split"] == "test") & (training["metric"] == "accuracy")
    ]
    acc = clf[clf["epoch"] == clf["epoch"].max()].set_index("seed")["value"]
    ae = training[
        (training["phase"] == "autoencoder") & (training["split"] == "train") & (training["metric"] == "loss")
    ].pivot(index="seed", columns="epoch", values="value")
    drop = 1.0 - ae[ae.columns.max()] / ae[0]
    last = features[features["epoch"] == features["epoch"].max()]
    run_level = last[last["feature"] == -1].pivot(index="seed", columns="metric", values="value")
    out = pd.DataFrame({"accuracy": acc, "loss_drop": drop})
    out = out.join(run_level[["spearman_importance_w_norm", "features_for_mass"]], how="outer")
    return out.sort_index()


def evaluate_claims(
    training: pd.DataFrame, features: pd.DataFrame, cfg: Mapping[str, Any], importance_mass: float
) -> pd.DataFrame:
    """The notebook's / issue's claims, each measured per seed and judged against its threshold.

    Rules (every threshold is a ``cfg`` key; docs/superposition.md gives each one's source):

    - A claim holds when at least ``ceil(min_fraction_of_seeds * n)`` seeds pass it; a seed passes only
      when it meets the claim's precondition too, and the precondition is met when that many seeds meet it.
    - "classifier trained" (precondition): final test accuracy >= ``trained_min_accuracy``, far above the
      0.1 of ten classes at chance. Without it the hidden "features" are a random projection, and
      compressing them says nothing about a classifier's features.
    - "autoencoder trained" (precondition): train MSE fell by >= ``trained_min_loss_drop``. Without it
      importance and ||W_i|| are those of the random initialisation, and an autoencoder whose units all
      have importance <= 0 would count 0 features "carrying" the importance and pass "about two" vacuously.
    - classifier_accurate (no precondition: it is the classifier's own training claim), test accuracy >=
      ``min_test_accuracy``; reconstruction_improves (classifier trained), MSE drop >= ``min_loss_drop``;
      importance_tracks_w_norm (both trained), Spearman >= ``min_spearman``; about_two_features (both
      trained), 1 <= features for ``importance_mass`` <= ``notebook_dominant_features`` +
      ``dominant_features_tolerance``.
    - Values are compared at :data:`DECIMALS` decimals, counts as integers (:func:`at_least`).

    ``importance_mass`` is the analysis setting the ``features_for_mass`` column was computed with."""
    x = per_seed_inputs(training, features)
    need = seeds_needed(float(cfg["min_fraction_of_seeds"]), len(x))
    t_clf, t_ae = float(cfg["trained_min_accuracy"]), float(cfg["trained_min_loss_drop"])
    clf_trained = x["accuracy"].apply(lambda v: at_least(v, t_clf))
    ae_trained = x["loss_drop"].apply(lambda v: at_least(v, t_ae))
    pre_clf = f"classifier trained (test accuracy >= {t_clf:g}; chance 0.1)"
    pre_both = f"{pre_clf} and autoencoder trained (MSE fell >= {t_ae:.0%})"
    rows = []

    t = float(cfg["min_test_accuracy"])
    rows.append(
        _seed_claim(
            "classifier_accurate",
            f"classifier test accuracy >= {t:g} after phase 1",
            x["accuracy"],
            x["accuracy"].apply(lambda v: at_least(v, t)),
            t,
            "mean final test accuracy",
            need,
        )
    )

    t = float(cfg["min_loss_drop"])
    rows.append(
        _seed_claim(
            "reconstruction_improves",
            f"reconstruction MSE falls by >= {t:.0%} over autoencoder training (epoch 0 -> last, full train set)",
            x["loss_drop"],
            x["loss_drop"].apply(lambda v: at_least(v, t)),
            t,
            "mean relative drop of MSE",
            need,
            pre_clf,
            clf_trained,
        )
    )

    t = float(cfg["min_spearman"])
    rho = x["spearman_importance_w_norm"]
    rows.append(
        _seed_claim(
            "importance_tracks_w_norm",
            f"importance and ||W_i|| rank-correlated (Spearman >= {t:g})",
            rho,
            rho.apply(lambda v: at_least(v, t)),
            t,
            "mean Spearman rho (last recorded epoch)",
            need,
            pre_both,
            clf_trained & ae_trained,
        )
    )

    mass = float(importance_mass)
    t = float(cfg["notebook_dominant_features"])
    limit = t + float(cfg["dominant_features_tolerance"])
    k = x["features_for_mass"]
    rows.append(
        _seed_claim(
            "about_two_features",
            f"about {t:g} features carry >= {mass:.0%} of the importance "
            f"(notebook's reading; pass if 1 <= count <= {t:g} + {cfg['dominant_features_tolerance']})",
            k,
            k.apply(lambda v: count_at_least(v, 1) and count_at_most(v, limit)),
            t,
            f"mean number of top features holding {mass:.0%} of importance",
            need,
            pre_both,
            clf_trained & ae_trained,
        )
    )
    return claims_frame(rows)


TITLE = "superposition: claims of notebook 001 (Elhage et al. 2022 on MNIST)"


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    return evaluate_claims(tables["training"], tables["features"], params["claims"], params["importance_mass"])
