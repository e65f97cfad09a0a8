"""Summaries of the learnability study's runs: mean, sd and a 95 % CI over seeds of every task, step,
input and metric (and of log10 of the errors).

The claims table (each comment of notebook 002 as a claim with its threshold, precondition and
interval over seeds) is :mod:`featurelab.studies.learnability.claims`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from featurelab.stats import summarize_over_seeds

SUMMARY_KEYS = ["study", "family", "condition", "generator", "params", "step", "input", "input_name", "metric"]


#: Errors that span decades: also summarised as ``log10_<metric>`` (a geometric mean with a CI on the log
#: scale, which is what a log-axis figure should show; an arithmetic CI often dips below zero).
LOG_METRICS = ("eval_mse", "train_loss", "final_eval_mse")
LOG_FLOOR = 1e-12


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, n and 95% CI over seeds of every (family, task, step, input, metric), plus the
    ``log10_`` versions of :data:`LOG_METRICS`."""
    logs = runs[runs["metric"].isin(LOG_METRICS)].copy()
    logs["value"] = np.log10(np.maximum(logs["value"].to_numpy(), LOG_FLOOR))
    logs["metric"] = "log10_" + logs["metric"]
    return summarize_over_seeds(pd.concat([runs, logs], ignore_index=True), SUMMARY_KEYS)


def aggregate_job(smk: Any) -> None:
    """Mean, sd and a 95% CI over seeds of every task, step, input and metric.

    The job of rule ``learnability_aggregate``.
    """
    from featurelab.io import read_frame, read_provenance, write_table

    record = read_provenance(smk.input[0]) | {"rule": smk.rule}
    write_table(summarize(read_frame(smk.input[0])), smk.output[0], record)
