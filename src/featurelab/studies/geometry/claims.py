"""The geometry study's claims (Elhage et al. 2022, "Feature Dimensionality"), declared for the verdict
framework (:mod:`featurelab.claims`).

1. **Sticky fractions**, one row per line of the paper's figure, ``PAPER_FRACTIONS``: "we found that there
   are distinct lines corresponding to dimensionality of: 3/4 (tetrahedron), 2/3 (triangle), 1/2 (antipodal
   pair), 2/5 (pentagon), 3/8 (square antiprism)". Per seed, the share of its represented features whose D_i
   lies in the span the configured fractions cover (D_i >= min(fractions) - tolerance), pooled over the
   sweep's instances, with |D_i - f| <= ``claims.tolerance``; the claim is that this share is at least
   ``claims.min_share``. Features of the sparsest instances, packed below every fraction, are left out of
   the pool: they would dilute the share by an amount that depends only on how far the sweep reaches.
2. **Dimensions per feature fall as sparsity rises** (the paper's figure of m/||W||_F^2 against 1/(1-S)):
   per seed, Spearman's rho between 1/(1-S) and m/||W||_F^2 over the sweep is at most
   ``claims.max_spearman``.

Both statistics are one number per seed, so both use the ``t`` interval over seeds. The share is a
complete share within each seed (its own model, data and order); the features of one model are not
independent trials (an antipodal pair or a polytope moves several features at once), so neither a binomial
bound on feature counts nor a share pooled over seeds (which weights seeds by their pool sizes) would
measure the seed-to-seed variation the t-bound does.

No row for D = 1: the paper draws no such line and says why, "We believe there would also be a 1 (dedicated
dimension for a feature) line if not for the fact that basis features are indistinguishable from other
directions in the dense regime". A 1 in ``analysis.fractions`` is drawn in the figure and nothing more.

Preconditions (a seed that fails them is no evidence; too few seeds meeting them makes the row FAIL):

* *trained*: every instance of the seed explains at least ``claims.trained_min_effective_fraction`` x m
  features' worth of variance, n (1 - loss / baseline) with the baseline the loss of the best model that
  ignores its input (see :func:`featurelab.studies.geometry.analysis.effective_features`). An untrained
  model scores below 0, so no claim can pass on one;
* *features represented* (sticky fractions): at least ``claims.min_features`` represented features
  (||W_i|| above ``analysis.represented_norm``) in the fractions' span, so that a share is a share of
  something.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from featurelab.claims import Claim, NotRun, Precondition, Tables, judge_claims
from featurelab.stats import spearman
from featurelab.studies.geometry import fraction_label, parse_fraction

TITLE = "geometry: feature dimensionality in uniform superposition (Elhage et al. 2022)"

#: The lines of the paper's feature-dimensionality figure, each one claim.
PAPER_FRACTIONS: tuple[str, ...] = ("3/4", "2/3", "1/2", "2/5", "3/8")
#: The paper's sentence naming them (section "Why these geometric structures?").
PAPER_LINES = (
    '"we found that there are distinct lines corresponding to dimensionality of: 3/4 (tetrahedron), '
    '2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon), 3/8 (square antiprism), and 0 (feature not learned)"'
)


def seeds_of(tables: Tables) -> list:
    """The study's seeds: those of the ``instances`` table."""
    return sorted(tables["instances"]["seed"].unique())


def seed_trained(instances: pd.DataFrame, min_effective_fraction: float) -> pd.Series:
    """Per seed: does every instance explain at least ``min_effective_fraction`` x m features' worth?"""
    need = instances["n_hidden"] * float(min_effective_fraction)
    ok = (instances["effective_features"] >= need).groupby(instances["seed"]).all()
    return ok.sort_index()


def span_floor(fractions: list[str], tolerance: float) -> float:
    """The lowest D_i the sticky shares count: the smallest configured fraction less the tolerance."""
    return float(min(parse_fraction(text) for text in fractions)) - float(tolerance)


def span_features(features: pd.DataFrame, floor: float) -> pd.DataFrame:
    """The represented features whose D_i lies in the fractions' span (D_i >= ``floor``)."""
    return features[features["represented"] & (features["dimensionality"] >= floor)]


def features_in_span(features: pd.DataFrame, floor: float) -> pd.Series:
    """Per seed: how many represented features lie in the fractions' span, pooled over the sweep."""
    seeds = sorted(features["seed"].unique())
    return span_features(features, floor).groupby("seed").size().reindex(seeds, fill_value=0)


def sticky_share(features: pd.DataFrame, value: float, floor: float, tolerance: float) -> pd.Series:
    """Per seed: the share of the represented features in the span with |D_i - ``value``| <= ``tolerance``
    (NaN for a seed without such features)."""
    seeds = sorted(features["seed"].unique())
    pool = span_features(features, floor)
    near = (pool["dimensionality"] - value).abs() <= float(tolerance)
    return near.groupby(pool["seed"]).mean().reindex(seeds)


def sweep_spearman(instances: pd.DataFrame) -> pd.Series:
    """Per seed: Spearman's rho between 1/(1-S) and m/||W||_F^2 over the sweep (NaN when either is flat)."""
    return pd.Series(
        {
            seed: spearman(inst["inverse_density"].to_numpy(), inst["dims_per_feature"].to_numpy())
            for seed, inst in instances.groupby("seed")
        },
        dtype=float,
    )


def _trained(params: Mapping[str, Any]) -> tuple[str, Callable[[Tables], pd.Series]]:
    """The *trained* precondition's text and per-seed test."""
    c = params["claims"]
    fraction = float(c["trained_min_effective_fraction"])
    text = (
        f"model trained: every instance explains >= {fraction:g} x m features' worth of variance, n (1 - loss/baseline)"
    )
    return text, lambda tables: seed_trained(tables["instances"], fraction)


def sticky_claim(text: str, params: Mapping[str, Any]) -> Claim:
    """ "Features stick at D = ``text``" (one of ``PAPER_FRACTIONS``); NotRun when the config does not list it."""
    c, analysis = params["claims"], params["analysis"]
    tolerance, min_share, min_features = float(c["tolerance"]), float(c["min_share"]), int(c["min_features"])
    configured = [str(f) for f in analysis["fractions"]]
    value = parse_fraction(text)
    floor = span_floor(configured, tolerance)
    trained_text, trained = _trained(params)

    def share(tables: Tables) -> pd.Series:
        if value not in {parse_fraction(f) for f in configured}:
            raise NotRun(f"fraction {text} is not in the config (geometry.analysis.fractions {configured})")
        return sticky_share(tables["features"], float(value), floor, tolerance)

    def met(tables: Tables) -> pd.Series:
        enough = features_in_span(tables["features"], floor) >= min_features
        return trained(tables).reindex(enough.index, fill_value=False) & enough

    uniform = 2 * tolerance / (1 - floor)
    return Claim(
        claim=f"sticky_{text.replace('/', '_')}",
        condition=fraction_label(text),
        statement=(
            f"features stick at D = {fraction_label(text)}: per seed, >= {min_share:g} of the represented "
            f"features with D_i >= {floor:.4g} (pooled over the sweep) lie within +-{tolerance:g} of {text}"
        ),
        side=">=",
        threshold=min_share,
        statistic=share,
        interval="t",
        source=(
            f"fraction {text}: the paper's line, {PAPER_LINES}. Share {min_share:g} and window +-{tolerance:g} "
            f"(claims.min_share, claims.tolerance): our reading, the paper gives no share; D_i spread evenly "
            f"over the span [{floor:.4g}, 1] would put {uniform:.3g} of the features in a window, so "
            f"{min_share:g} is a pile-up, not a smooth spread"
        ),
        precondition=Precondition(
            f"{trained_text}; >= {min_features} represented features (||W_i|| > "
            f"{float(analysis['represented_norm']):g}) with D_i >= {floor:.4g}",
            met,
        ),
    )


def fall_claim(params: Mapping[str, Any]) -> Claim:
    """ "Dimensions per feature fall as sparsity rises": Spearman's rho per seed."""
    max_rho = float(params["claims"]["max_spearman"])
    trained_text, trained = _trained(params)
    return Claim(
        claim="dims_per_feature_fall",
        condition="sweep",
        statement=(
            "dimensions per feature m/||W||_F^2 fall as sparsity rises: per seed, Spearman rho(1/(1-S), "
            f"m/||W||_F^2) over the sweep <= {max_rho:g}"
        ),
        side="<=",
        threshold=max_rho,
        statistic=lambda tables: sweep_spearman(tables["instances"]),
        interval="t",
        source=(
            "our reading of the paper's figure of m/||W||_F^2 against 1/(1-S) (section \"Uniform "
            'Superposition"), which falls from 1 (dense) to below 1/2, flat only where "this graph is '
            f"'sticky' at 1 and 1/2\"; rho <= {max_rho:g} (claims.max_spearman) tolerates a few inversions "
            "on a plateau, while 8 points (the default sweep) in random order reach it with probability 0.011"
        ),
        precondition=Precondition(trained_text, trained),
    )


def declared_claims(params: Mapping[str, Any]) -> list[Claim]:
    """Every row of the study's claims table, in order."""
    return [*(sticky_claim(text, params) for text in PAPER_FRACTIONS), fall_claim(params)]


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the ``features`` and ``instances`` tables and the rule's ``claims``/``analysis``."""
    share = float(params["claims"]["min_fraction_of_seeds"])
    return judge_claims(declared_claims(params), tables, seeds_of(tables), min_share=share)
