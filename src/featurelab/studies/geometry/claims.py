"""The geometry study's claims (Elhage et al. 2022, "Feature Dimensionality"), each with its precondition.

1. **Sticky fractions** (one row per fraction f of ``analysis.fractions``): pooled over one seed's sweep, the
   share of represented features with |D_i - f| <= ``claims.tolerance`` is at least ``claims.min_share``.
   The share is taken among the represented features whose D_i lies in the span the fractions cover
   (D_i >= min(fractions) - tolerance): features of the very sparse instances, packed below every listed
   fraction, would otherwise dilute it by an amount that depends only on how far the sweep reaches.
2. **Dimensions per feature fall as sparsity rises**: per seed, the Spearman rank correlation between
   1/(1-S) and m/||W||_F^2 over the sweep is at most ``claims.max_spearman``.

Preconditions (a claim is FAIL when they do not hold, whatever its number says):

* *trained*: every instance of the seed explains at least ``claims.trained_min_effective_fraction`` x m
  features' worth of variance, n (1 - loss / baseline) with the baseline the loss of the best model that
  ignores its input (see :func:`featurelab.studies.geometry.analysis.effective_features`). An untrained
  model scores below 0, so neither claim can pass on one (tested);
* *features represented* (claim 1): at least ``claims.min_features`` represented features (||W_i|| above
  ``analysis.represented_norm``) in the fractions' span, so that a share is a share of something.

A row passes when at least ``claims.min_fraction_of_seeds`` of the seeds meet its precondition and its test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from featurelab.claims import claim_row, claims_frame, seeds_needed
from featurelab.studies.geometry import fraction_label, parse_fraction

TITLE = "geometry: feature dimensionality in uniform superposition (Elhage et al. 2022)"


def _seed_counts(passing: int, n_seeds: int, need: int, threshold: float) -> dict:
    """The claim_row fields of a claim judged seed by seed: it holds when ``need`` seeds pass."""
    return dict(threshold=threshold, seeds_passing=passing, n_seeds=n_seeds, holds=passing >= need)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties; NaN when either side is constant)."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def seed_trained(instances: pd.DataFrame, min_effective_fraction: float) -> pd.Series:
    """Per seed: does every instance explain at least ``min_effective_fraction`` x m features' worth?"""
    need = instances["n_hidden"] * float(min_effective_fraction)
    ok = (instances["effective_features"] >= need).groupby(instances["seed"]).all()
    return ok.sort_index()


def fraction_shares(features: pd.DataFrame, fractions: list[str], tolerance: float) -> tuple[pd.DataFrame, pd.Series]:
    """(seed x fraction share table, per-seed pool size) over the represented features in the fractions' span."""
    values = {text: float(parse_fraction(text)) for text in fractions}
    floor = min(values.values()) - float(tolerance)
    rep = features[features["represented"] & (features["dimensionality"] >= floor)]
    seeds = sorted(features["seed"].unique())
    pool = rep.groupby("seed").size().reindex(seeds, fill_value=0)
    shares = pd.DataFrame(index=seeds, columns=list(values), dtype=float)
    for text, value in values.items():
        near = (rep["dimensionality"] - value).abs() <= float(tolerance)
        counts = near.groupby(rep["seed"]).sum().reindex(seeds, fill_value=0)
        shares[text] = np.where(pool > 0, counts / pool.clip(lower=1), 0.0)
    return shares, pool


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the ``features`` and ``instances`` tables and the rule's ``claims``/``analysis``."""
    c, analysis = params["claims"], params["analysis"]
    features, instances = tables["features"], tables["instances"]
    seeds = sorted(instances["seed"].unique())
    n_seeds = len(seeds)
    need = seeds_needed(float(c["min_fraction_of_seeds"]), n_seeds)
    trained = seed_trained(instances, c["trained_min_effective_fraction"]).reindex(seeds, fill_value=False)
    m = int(instances["n_hidden"].iloc[0])
    trained_text = (
        f"model trained: every instance explains >= {c['trained_min_effective_fraction']:g} x m = "
        f"{c['trained_min_effective_fraction'] * m:g} features' worth of variance, n (1 - loss/baseline)"
    )
    untrained = [int(s) for s in seeds if not trained[s]]
    rows = []

    fractions = [str(f) for f in analysis["fractions"]]
    shares, pool = fraction_shares(features, fractions, c["tolerance"])
    enough = pool >= int(c["min_features"])
    pre_ok = trained & enough
    pre_text = (
        f"{trained_text}; >= {c['min_features']} represented features (||W_i|| > "
        f"{analysis['represented_norm']:g}) with D_i in the fractions' span"
    )
    unmet = []
    if untrained:
        unmet.append(f"untrained seeds {untrained}")
    few = [f"seed {int(s)}: {int(pool[s])}" for s in seeds if not enough[s]]
    if few:
        unmet.append(f"too few represented features ({', '.join(few)})")
    for text in fractions:
        share = shares[text]
        passing = int(((share >= float(c["min_share"])) & pre_ok).sum())
        per_seed = ", ".join(f"{v:.3f}" for v in share.to_numpy())
        rows.append(
            claim_row(
                f"sticky_{text.replace('/', '_')}",
                fraction_label(text),
                f"features stick at D = {fraction_label(text)}: >= {c['min_share']:g} of the represented "
                f"features in the fractions' span within +-{c['tolerance']:g}, pooled over the sweep",
                measured=float(np.median(share.to_numpy())),
                measured_what=f"median over seeds of the share (per seed: {per_seed}; precondition met in "
                f"{int(pre_ok.sum())} of {n_seeds} seeds)",
                **_seed_counts(passing, n_seeds, need, float(c["min_share"])),
                precondition=pre_text,
                precondition_met=int(pre_ok.sum()) >= need,
                unmet_reason="; ".join(unmet),
                missed_reason=f"share >= {c['min_share']:g} in {passing} of {n_seeds} seeds (need {need})",
            )
        )

    rhos = []
    for s in seeds:
        inst = instances[instances["seed"] == s].sort_values("inverse_density")
        rhos.append(spearman(inst["inverse_density"].to_numpy(), inst["dims_per_feature"].to_numpy()))
    rhos_arr = np.asarray(rhos)
    ok = (rhos_arr <= float(c["max_spearman"])) & trained.to_numpy()
    passing = int(ok.sum())
    rows.append(
        claim_row(
            "dims_per_feature_fall",
            "sweep",
            f"dimensions per feature m/||W||_F^2 fall as sparsity rises: Spearman rho(1/(1-S), m/||W||_F^2) <= "
            f"{c['max_spearman']:g}",
            measured=float(np.nanmedian(rhos_arr)) if np.isfinite(rhos_arr).any() else float("nan"),
            measured_what="median over seeds of Spearman rho (per seed: "
            + ", ".join(f"{r:.3f}" for r in rhos)
            + f"; model trained in {int(trained.sum())} of {n_seeds} seeds)",
            **_seed_counts(passing, n_seeds, need, float(c["max_spearman"])),
            precondition=trained_text,
            precondition_met=int(trained.sum()) >= need,
            unmet_reason=f"untrained seeds {untrained}",
            missed_reason=f"rho <= {c['max_spearman']:g} in {passing} of {n_seeds} seeds (need {need})",
        )
    )
    return claims_frame(rows)
