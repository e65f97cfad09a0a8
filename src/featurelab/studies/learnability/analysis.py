"""Summaries and the claims table of the learnability study.

Every claim is one comment of notebook 002, turned into a measured number with a threshold (each
threshold and its source: ``docs/learnability.md``). A claim holds when its test holds in at least
``ceil(min_fraction_of_seeds * n)`` of the n seeds. Claims whose family or task is not configured are
skipped (listed nowhere) rather than failing: the tiny test config runs only a few tasks.

Claims that an untrained model would pass ("x = y + 10 doesn't converge", "the bad input is barely
used", "a big spike at the beginning") carry a precondition that is checked per seed: a seed counts
only when the precondition holds in it too, and the row is FAIL with the reason when the precondition
holds in fewer than the required number of seeds (:func:`featurelab.claims.claim_row`). The
rules (``PRECONDITIONS``):

- "does not converge": the family's control task (:data:`CONTROL_TASKS`) converged in the same seed
  (the optimizer demonstrably trained this batched model);
- "barely used", "used", "used less", "early spike": the task itself was learned (final held-out MSE
  below the analysis' ``loss_threshold``), so the attribution or the spike is that of a trained model;
- "A learns more slowly than B", "more distractors, more steps", "fastest scale": the reference task B
  (the fewest inputs; the fastest scale) reached the loss threshold, so its step count is a measurement
  and not the step budget.

Verdicts must not depend on the last bits of a float: step counts are integers and are rounded before
use (ratios of integers compare exactly), and a continuous measurement clears a threshold only by more
than :data:`REL_MARGIN` of it (a value within that margin is "too close to call" and does not hold).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from featurelab.stats import summarize_over_seeds

#: The family names the claims refer to (the notebook's cells); a family not configured is skipped.
FAMILIES = ("run_all", "scale_shift", "simplicity", "distractors", "features")
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


def finals(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``(seed x (family, condition))`` table of one final metric."""
    sel = runs[(runs["step"] == -1) & (runs["metric"] == metric)]
    return sel.pivot_table(index="seed", columns=["family", "condition"], values="value", aggfunc="first")


def attribution(runs: pd.DataFrame, family: str, condition: str) -> pd.DataFrame:
    """``(seed x input)`` mean input gradient of one task."""
    sel = runs[(runs["family"] == family) & (runs["condition"] == condition) & (runs["metric"] == "attribution_mean")]
    return sel.pivot_table(index="seed", columns="input", values="value", aggfunc="first")


def aggregate_job(smk: Any) -> None:
    """Mean, sd and a 95% CI over seeds of every task, step, input and metric.

    The job of rule ``learnability_aggregate``.
    """
    from featurelab.io import read_frame, read_provenance, write_table

    record = read_provenance(smk.input[0]) | {"rule": smk.rule}
    write_table(summarize(read_frame(smk.input[0])), smk.output[0], record)
