"""Analyses of the complexity study's training curves, and its claims table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from featurelab.stats import summarize_over_seeds

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
    r2 = (
        metrics[metrics["metric"].isin(R2_METRICS)]
        .merge(tv, on=runs + ["epoch"])
        .merge(last[runs + ["tv_final"]], on=runs)
    )
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


def aggregate_job(smk: Any) -> None:
    """Every run's metrics with its normalised variance curves, in one table, and the summary over seeds.

    The job of rule ``complexity_aggregate``. The normalisation is per run (each run's own final total
    variance), so doing it here, run by run, gives the table a job per run would.
    """
    import pandas as pd

    from featurelab.io import read_frame, read_provenance, write_table
    from featurelab.provenance import provenance

    runs = pd.concat([normalize_variance_curves(read_frame(path)) for path in smk.input], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input]
    shared = {k: v for k, v in inputs[0]["config"].items() if k not in ("pair", "seed")}
    record = provenance(
        shared,
        rule=smk.rule,
        runs=[
            {"pair": p["config"]["pair"], "seed": p["config"]["seed"], "config_hash": p["config_hash"]} for p in inputs
        ],
    )
    write_table(runs, smk.output.runs, record)
    write_table(summarize(runs), smk.output.summary, record)
