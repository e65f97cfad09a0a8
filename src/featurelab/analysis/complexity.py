"""Analyses of the complexity study's training curves, and its claims table."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from featurelab.analysis.claims import CLAIM_COLUMNS, seeds_needed
from featurelab.analysis.stats import summarize_over_seeds

R2_METRICS = ("r2_weighted", "r2_unweighted")
SUMMARY_KEYS = ["condition", "epoch", "split", "feature_index", "feature", "metric"]


def normalize_variance_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """Add ``<r2>_normalized`` = R2_t * TV_t / TV_final rows for every run in ``metrics``.

    This puts the curves on the scale of the final representation (the paper's Fig. 2): early in
    training the total variance TV_t is small, so a high R2_t there explains little of what the
    network will end up representing. By construction the curve ends exactly at the final R^2.
    """
    runs = ["study", "condition", "seed"]
    tv = metrics[metrics["metric"] == "total_variance"][runs + ["epoch", "value"]].rename(columns={"value": "tv"})
    last = tv.sort_values("epoch").groupby(runs, as_index=False).last().rename(columns={"tv": "tv_final"})
    r2 = metrics[metrics["metric"].isin(R2_METRICS)].merge(tv, on=runs + ["epoch"]).merge(last[runs + ["tv_final"]], on=runs)
    r2["value"] = r2["value"] * r2["tv"] / r2["tv_final"]
    r2["metric"] = r2["metric"] + "_normalized"
    return pd.concat([metrics, r2[metrics.columns]], ignore_index=True)


def final_values(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of each run's last evaluated epoch (runs may stop early)."""
    last_epoch = runs.groupby(["condition", "seed"])["epoch"].transform("max")
    return runs[runs["epoch"] == last_epoch]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% CI over seeds for every (condition, epoch, split, feature, metric), plus a
    ``final`` pseudo-epoch (-1) summarising each run's last epoch."""
    curves = summarize_over_seeds(runs, SUMMARY_KEYS)
    finals = final_values(runs).assign(epoch=-1)
    return pd.concat([curves, summarize_over_seeds(finals, SUMMARY_KEYS)], ignore_index=True)


def _pivot(runs: pd.DataFrame, condition: str, split: str, metric: str) -> pd.DataFrame:
    sel = runs[(runs["condition"] == condition) & (runs["split"] == split) & (runs["metric"] == metric)
               & (runs["feature_index"] >= 0)]
    return sel.pivot_table(index=["seed", "epoch"], columns="feature", values="value", aggfunc="first")


def evaluate_claims(runs: pd.DataFrame, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """One row per claim of the paper: what was measured, the threshold, and whether it holds.

    A claim holds for a configuration when it holds in at least ``ceil(min_fraction_of_seeds * n)``
    of its n seeds (``4 of 5`` by default), plus any magnitude threshold on the mean.
    """
    rows: list[dict[str, Any]] = []
    acc_needed = float(cfg["learned_accuracy"])
    finals = final_values(runs)
    conditions = sorted(runs["condition"].unique())

    fraction = float(cfg["min_fraction_of_seeds"])
    for condition in conditions:
        acc = _pivot(finals, condition, "test", "accuracy")
        ok = (acc >= acc_needed).all(axis=1)
        rows.append(dict(
            claim="both_features_learned", condition=condition,
            statement=f"every feature reaches test accuracy >= {acc_needed} by the end of training",
            measured=float(acc.min(axis=1).mean()), measured_what="mean over seeds of the worse feature's final test accuracy",
            threshold=acc_needed, seeds_passing=int(ok.sum()), n_seeds=len(ok),
            passed=bool(ok.sum() >= seeds_needed(fraction, len(ok)))))

    reference = "-vs-".join(cfg["reference_pair"])
    easy = "linear"
    hard = next(f for f in cfg["reference_pair"] if f != easy)
    r2 = _pivot(finals, reference, "test", "r2_weighted")
    gap = (r2[easy] - r2[hard]).to_numpy()
    n = len(gap)
    rows.append(dict(
        claim="easy_feature_dominates_variance", condition=reference,
        statement=f"{easy} explains more of the representation's variance than {hard} "
                  f"(variance-weighted R^2), mean gap >= {cfg['min_variance_gap']}",
        measured=float(gap.mean()), measured_what="mean over seeds of R2_weighted(easy) - R2_weighted(hard)",
        threshold=float(cfg["min_variance_gap"]), seeds_passing=int((gap > 0).sum()), n_seeds=n,
        passed=bool((gap > 0).sum() >= seeds_needed(fraction, n) and gap.mean() >= float(cfg["min_variance_gap"]))))

    acc_curve = _pivot(runs, reference, "test", "accuracy").reset_index()
    chance = 0.5 + float(cfg["chance_margin"])
    hard_at_easy, passing = [], 0
    for seed, curve in acc_curve.groupby("seed"):
        learned = curve[curve[easy] >= acc_needed]
        if learned.empty:
            hard_at_easy.append(np.nan)
            continue
        value = float(learned.sort_values("epoch")[hard].iloc[0])
        hard_at_easy.append(value)
        passing += value <= chance
    rows.append(dict(
        claim="easy_feature_learned_first", condition=reference,
        statement=f"when {easy} first reaches test accuracy {acc_needed}, {hard} is still at chance (<= {chance})",
        measured=float(np.nanmean(hard_at_easy)) if not np.all(np.isnan(hard_at_easy)) else float("nan"),
        measured_what=f"mean over seeds of {hard}'s test accuracy at that epoch",
        threshold=chance, seeds_passing=int(passing), n_seeds=len(hard_at_easy),
        passed=bool(passing >= seeds_needed(fraction, len(hard_at_easy)))))
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
