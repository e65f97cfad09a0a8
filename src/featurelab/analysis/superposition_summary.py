"""Aggregation over seeds and the claims table of the superposition study (pandas; not imported by
training jobs)."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from featurelab.analysis.claims import CLAIM_COLUMNS, seeds_needed
from featurelab.analysis.stats import summarize_over_seeds

#: summary.parquet: training curves (kind 'training') and per-importance-rank features at every recorded
#: epoch (kind 'by_rank'); unused keys are '' / -1.
SUMMARY_COLUMNS = ("kind", "phase", "split", "epoch", "importance_rank", "metric", "mean", "sd", "n", "ci_low",
                   "ci_high")
WTW_SUMMARY_COLUMNS = ("epoch", "row_rank", "col_rank", "mean", "sd", "n", "ci_low", "ci_high")


def summarize(training: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% CI over seeds of the training curves and of each feature metric by importance rank."""
    curves = summarize_over_seeds(training, ["phase", "split", "epoch", "metric"])
    curves["kind"], curves["importance_rank"] = "training", -1
    ranks = summarize_over_seeds(features, ["epoch", "importance_rank", "metric"])
    ranks["kind"], ranks["phase"], ranks["split"] = "by_rank", "autoencoder", "analysis"
    out = pd.concat([curves, ranks], ignore_index=True)
    out["importance_rank"] = out["importance_rank"].astype("int64")
    out["epoch"] = out["epoch"].astype("int64")
    return out[list(SUMMARY_COLUMNS)]


def summarize_wtw(wtw: pd.DataFrame) -> pd.DataFrame:
    """W_dec W_enc averaged over seeds cell by cell in importance-rank coordinates."""
    return summarize_over_seeds(wtw, ["epoch", "row_rank", "col_rank"])[list(WTW_SUMMARY_COLUMNS)]


def _claim(claim: str, statement: str, per_seed: pd.Series, threshold: float, what: str, passes, min_fraction: float,
           condition: str = "all seeds") -> dict[str, Any]:
    ok = per_seed.apply(passes)
    n = int(len(per_seed))
    return {"claim": claim, "condition": condition, "statement": statement, "measured": float(per_seed.mean()),
            "measured_what": what, "threshold": float(threshold), "seeds_passing": int(ok.sum()), "n_seeds": n,
            "passed": bool(ok.sum() >= seeds_needed(min_fraction, n))}


def evaluate_claims(training: pd.DataFrame, features: pd.DataFrame, cfg: Mapping[str, Any], importance_mass: float
                    ) -> pd.DataFrame:
    """The notebook's / issue's claims, each measured per seed and judged against its threshold.

    ``importance_mass`` is the analysis setting the ``features_for_mass`` column was computed with."""
    frac = float(cfg["min_fraction_of_seeds"])
    rows = []
    clf = training[(training["phase"] == "classifier") & (training["split"] == "test")
                   & (training["metric"] == "accuracy")]
    final_acc = clf[clf["epoch"] == clf["epoch"].max()].set_index("seed")["value"].sort_index()
    t = float(cfg["min_test_accuracy"])
    rows.append(_claim("classifier_accurate", f"classifier test accuracy >= {t:g} after phase 1", final_acc, t,
                       "mean final test accuracy", lambda v: v >= t, frac))

    ae = training[(training["phase"] == "autoencoder") & (training["split"] == "train")
                  & (training["metric"] == "loss")].pivot(index="seed", columns="epoch", values="value").sort_index()
    drop = 1.0 - ae[ae.columns.max()] / ae[0]
    t = float(cfg["min_loss_drop"])
    rows.append(_claim("reconstruction_improves", f"reconstruction MSE falls by >= {t:.0%} over autoencoder "
                       "training (epoch 0 -> last, full train set)", drop, t, "mean relative drop of MSE",
                       lambda v: v >= t, frac))

    last = features[features["epoch"] == features["epoch"].max()]
    run_level = last[last["feature"] == -1].pivot(index="seed", columns="metric", values="value").sort_index()
    t = float(cfg["min_spearman"])
    rows.append(_claim("importance_tracks_w_norm", f"importance and ||W_i|| rank-correlated (Spearman >= {t:g})",
                       run_level["spearman_importance_w_norm"], t, "mean Spearman rho (last recorded epoch)",
                       lambda v: v >= t, frac))

    mass = float(importance_mass)
    t = float(cfg["notebook_dominant_features"])
    rows.append(_claim("about_two_features", f"about {t:g} features carry >= {mass:.0%} of the importance "
                       f"(notebook's reading; pass if <= {t:g} + {cfg['dominant_features_tolerance']})",
                       run_level["features_for_mass"], t, f"mean number of top features holding {mass:.0%} of "
                       "importance", lambda v: v <= t + float(cfg["dominant_features_tolerance"]), frac))
    out = pd.DataFrame(rows)
    return out[list(CLAIM_COLUMNS)]
