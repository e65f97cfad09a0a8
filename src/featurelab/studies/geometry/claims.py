"""The geometry study's claims (Elhage et al. 2022, "Feature Dimensionality"), declared for the verdict
framework (:mod:`featurelab.claims`).

1. **The curve is sticky at 1 and 1/2** (``PAPER_PLATEAUS``): the paper's "this graph is 'sticky' at 1 and
   1/2" of m/||W||_F^2 against 1/(1-S). Per seed, how long (in ln 1/(1-S)) the curve, ln-interpolated
   between the sweep's points, stays within ``claims.plateau_tolerance`` (relative) of the value, divided by
   how long a steady fall through the same end points (a power law, the log-log plot's straight line)
   would stay there (:func:`~featurelab.studies.geometry.analysis.plateau_ratio`). A plateau is a ratio of
   at least ``claims.min_plateau_ratio``; a curve without one gives about 1.
2. **A pile-up at each of the paper's lines** (``PAPER_FRACTIONS``, "distinct lines corresponding to
   dimensionality of: 3/4 (tetrahedron), 2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon), 3/8 (square
   antiprism)"), judged where it can form: per seed, the represented features (of every instance) whose D_i
   lies in the local range |D_i - f| <= ``claims.pileup_window``, less those within ``claims.tolerance`` of
   another line (:func:`~featurelab.studies.geometry.analysis.local_pool`). The statistic is the share of
   them within ``claims.tolerance`` of f divided by the share a smooth spread of D_i over the local range
   would put there (the window's width over the range's length): the pile-up's *enrichment*, 1 for D_i
   spread evenly near f, the sidebands' density standing in for the smooth spread. The claim: at least
   ``claims.min_enrichment``. A smooth cluster around f (a mode of D_i, not features at f) raises the
   sidebands with the window and stays below it.
3. **Dimensions per feature fall as sparsity rises** (our reading of the same figure): per seed, Spearman's
   rho between 1/(1-S) and m/||W||_F^2 over the sweep is at most ``claims.max_spearman``.

Every statistic is one number per seed, so every row uses the ``t`` interval over seeds: a seed (its own
initialisation, data and order) is the unit of replication, and the features of one model are not
independent trials (an antipodal pair or a polytope moves several at once), so a binomial bound on feature
counts would count one model's arrangement as many replications.

No row for D = 1: the paper draws no such line and says why, "We believe there would also be a 1 (dedicated
dimension for a feature) line if not for the fact that basis features are indistinguishable from other
directions in the dense regime". A 1 in ``analysis.fractions`` is drawn in the figure and nothing more.

Preconditions (a seed that fails them is no evidence; too few seeds meeting them makes the row FAIL):

* *trained*: every instance of the seed explains at least ``claims.trained_min_effective_fraction`` x m
  features' worth of variance, n (1 - loss / baseline) with the baseline the loss of the best model that
  ignores its input (:func:`featurelab.studies.geometry.analysis.effective_features`). An untrained model
  scores below 0, so no claim can pass on one;
* *the curve crosses the band* (plateaus): the steady fall enters the band and the curve leaves it on the
  sparse side, so that a ratio compares two lengths inside the sweep;
* *features where the line can form* (pile-ups): at least ``claims.min_features`` features in the local
  pool, so that a share is a share of something.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from featurelab.claims import Claim, NotRun, Precondition, Tables, all_of, judge_claims
from featurelab.stats import spearman
from featurelab.studies.geometry import fraction_label, parse_fraction
from featurelab.studies.geometry.analysis import local_pool, local_span, plateau_ratio

TITLE = "geometry: feature dimensionality in uniform superposition (Elhage et al. 2022)"

#: The lines of the paper's feature-dimensionality figure, each one pile-up claim.
PAPER_FRACTIONS: tuple[str, ...] = ("3/4", "2/3", "1/2", "2/5", "3/8")
#: The values at which the paper finds the curve of m/||W||_F^2 sticky, each one plateau claim.
PAPER_PLATEAUS: tuple[str, ...] = ("1", "1/2")
#: The paper's sentence naming the lines (section "Why these geometric structures?").
PAPER_LINES = (
    '"we found that there are distinct lines corresponding to dimensionality of: 3/4 (tetrahedron), '
    '2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon), 3/8 (square antiprism), and 0 (feature not learned)"'
)
#: The paper's sentence on the curve (section "Uniform Superposition").
PAPER_STICKY = "\"this graph is 'sticky' at 1 and 1/2\""


def seeds_of(tables: Tables) -> list:
    """The study's seeds: those of the ``instances`` table."""
    return sorted(tables["instances"]["seed"].unique())


def seed_trained(instances: pd.DataFrame, min_effective_fraction: float) -> pd.Series:
    """Per seed: does every instance explain at least ``min_effective_fraction`` x m features' worth?"""
    need = instances["n_hidden"] * float(min_effective_fraction)
    ok = (instances["effective_features"] >= need).groupby(instances["seed"]).all()
    return ok.sort_index()


def plateau_ratios(instances: pd.DataFrame, value: float, tolerance: float) -> pd.Series:
    """Per seed: :func:`plateau_ratio` of its curve at ``value``."""
    return pd.Series(
        {
            seed: plateau_ratio(
                inst["inverse_density"].to_numpy(), inst["dims_per_feature"].to_numpy(), value, tolerance
            )
            for seed, inst in instances.groupby("seed")
        },
        dtype=float,
    )


def curve_crosses(instances: pd.DataFrame, value: float, tolerance: float) -> pd.Series:
    """Per seed: the densest point is at or above the band's floor and the sparsest below it, so a steady
    fall through them enters the band and the curve leaves it inside the sweep."""
    floor = value * (1 - tolerance)

    def crosses(inst: pd.DataFrame) -> bool:
        dims = inst.sort_values("inverse_density")["dims_per_feature"].to_numpy()
        return bool(dims[0] >= floor and dims[-1] < floor)

    return instances.groupby("seed").apply(crosses).astype(bool)


def other_fractions(params: Mapping[str, Any]) -> list[float]:
    """Every configured fraction's value (the pile-up pools leave out the features at the other lines)."""
    return [float(parse_fraction(f)) for f in params["analysis"]["fractions"]]


def pileup_counts(tables: Tables, value: float, params: Mapping[str, Any]) -> pd.DataFrame:
    """Per seed: features in the local pool at ``value`` (``pool``) and within tolerance of it (``near``)."""
    c = params["claims"]
    window, tol = float(c["pileup_window"]), float(c["tolerance"])
    pool = local_pool(tables["features"], value, window, other_fractions(params), tol)
    near = (pool["dimensionality"] - value).abs() <= tol
    counts = pd.DataFrame({"pool": pool.groupby("seed").size(), "near": near.groupby(pool["seed"]).sum()})
    return counts.reindex(seeds_of(tables), fill_value=0)


def null_share(value: float, params: Mapping[str, Any]) -> float:
    """The share of the local pool a smooth spread of D_i over the local range puts within tolerance."""
    c = params["claims"]
    window, tol = float(c["pileup_window"]), float(c["tolerance"])
    return 2 * tol / local_span(value, window, other_fractions(params), tol)


def enrichment(tables: Tables, value: float, params: Mapping[str, Any]) -> pd.Series:
    """Per seed: the share of the local pool at ``value`` over the smooth spread's (NaN for an empty pool)."""
    counts = pileup_counts(tables, value, params)
    share = counts["near"] / counts["pool"].where(counts["pool"] > 0)
    return share / null_share(value, params)


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


def plateau_claim(text: str, params: Mapping[str, Any]) -> Claim:
    """ "m/||W||_F^2 is sticky at ``text``": the curve stays near it longer than a steady fall would."""
    c = params["claims"]
    tol, min_ratio = float(c["plateau_tolerance"]), float(c["min_plateau_ratio"])
    value = float(parse_fraction(text))
    trained_text, trained = _trained(params)
    return Claim(
        claim=f"plateau_{text.replace('/', '_')}",
        condition=f"m/||W||_F^2 = {text}",
        statement=(
            f"dimensions per feature m/||W||_F^2 are sticky at {text}: per seed, the curve stays within "
            f"+-{tol:.0%} of {text} over >= {min_ratio:g}x the range of ln 1/(1-S) a steady fall (power law "
            "through the sweep's end points) would"
        ),
        side=">=",
        threshold=min_ratio,
        statistic=lambda tables: plateau_ratios(tables["instances"], value, tol),
        interval="t",
        source=(
            f'the value: the paper, {PAPER_STICKY} (section "Uniform Superposition"). Band +-{tol:.0%} '
            f"(claims.plateau_tolerance) and ratio {min_ratio:g} (claims.min_plateau_ratio): our reading, the paper "
            "gives no number; a curve with no plateau there gives about 1, so twice the steady fall's range is a "
            "plateau, not a slow stretch of a smooth fall"
        ),
        precondition=all_of(
            Precondition(trained_text, trained),
            Precondition(
                f"the densest point is at or above {value * (1 - tol):.3g} and the sparsest below it",
                lambda tables: curve_crosses(tables["instances"], value, tol),
            ),
        ),
    )


def pileup_claim(text: str, params: Mapping[str, Any]) -> Claim:
    """ "Features pile up at D = ``text``" where they can; NotRun when the config does not list ``text``."""
    c = params["claims"]
    window, tol = float(c["pileup_window"]), float(c["tolerance"])
    min_enrichment, min_features = float(c["min_enrichment"]), int(c["min_features"])
    configured = [str(f) for f in params["analysis"]["fractions"]]
    value = float(parse_fraction(text))
    trained_text, trained = _trained(params)

    def listed(tables: Tables) -> None:
        if parse_fraction(text) not in {parse_fraction(f) for f in configured}:
            raise NotRun(f"fraction {text} is not in the config (geometry.analysis.fractions {configured})")

    def statistic(tables: Tables) -> pd.Series:
        listed(tables)
        return enrichment(tables, value, params)

    def enough(tables: Tables) -> pd.Series:
        listed(tables)
        return pileup_counts(tables, value, params)["pool"] >= min_features

    null = null_share(value, params) if parse_fraction(text) in {parse_fraction(f) for f in configured} else 0.0
    return Claim(
        claim=f"pileup_{text.replace('/', '_')}",
        condition=fraction_label(text),
        statement=(
            f"features pile up at D = {fraction_label(text)}: per seed, of the represented features with "
            f"|D_i - {text}| <= {window:g} (less those at another line), the share within +-{tol:g} of {text} is "
            f">= {min_enrichment:g}x what D_i spread evenly over that range would give"
        ),
        side=">=",
        threshold=min_enrichment,
        statistic=statistic,
        interval="t",
        source=(
            f"the line: the paper, {PAPER_LINES}. Window +-{tol:g} (claims.tolerance), local range +-{window:g} "
            f"(claims.pileup_window) and {min_enrichment:g}x (claims.min_enrichment): our reading, the paper gives "
            f"no number. Null: D_i spread evenly over the local range puts {null:.3g} of the pool in the window; "
            f"{min_enrichment:g}x that is reached by chance with probability "
            f"{chance_of_enrichment(null, min_enrichment, min_features):.2g} at {min_features} features (binomial)"
        ),
        precondition=all_of(
            Precondition(trained_text, trained),
            Precondition(
                f">= {min_features} represented features with |D_i - {text}| <= {window:g} (the local range)", enough
            ),
        ),
    )


def chance_of_enrichment(null: float, factor: float, n: int) -> float:
    """P(Binomial(n, null) >= factor x null x n): how often a smooth spread alone reaches the threshold."""
    if null <= 0:
        return float("nan")
    return float(stats.binom.sf(np.ceil(factor * null * n - 1e-9) - 1, n, null))


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
            "on a plateau, while points in random order rarely reach it (8 points: 0.011, 11: 0.0023, by "
            "enumeration)"
        ),
        precondition=Precondition(trained_text, trained),
    )


def declared_claims(params: Mapping[str, Any]) -> list[Claim]:
    """Every row of the study's claims table, in order."""
    return [
        *(plateau_claim(text, params) for text in PAPER_PLATEAUS),
        *(pileup_claim(text, params) for text in PAPER_FRACTIONS),
        fall_claim(params),
    ]


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the ``features`` and ``instances`` tables and the rule's ``claims``/``analysis``."""
    share = float(params["claims"]["min_fraction_of_seeds"])
    return judge_claims(declared_claims(params), tables, seeds_of(tables), min_share=share)
