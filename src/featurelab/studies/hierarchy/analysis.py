"""Analyses of the hierarchy study: loss summaries, the width a tree needs, TMS geometry, claims."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from featurelab.stats import summarize_over_seeds
from featurelab.studies.hierarchy.data import expected_marginals

SUMMARY_KEYS = ["depth", "n_features", "n_hidden", "metric"]
#: Columns of ``summary.parquet``: mean/sd/n/95% CI over seeds plus the per-seed minimum, median and maximum
#: (``analysis.statistic`` picks min, median or mean for the heatmap, width needed, loss-vs-width and claims).
SUMMARY_COLUMNS = (*SUMMARY_KEYS, "mean", "sd", "n", "ci_low", "ci_high", "min", "median", "max")
#: Columns of ``finals.parquet``: every seed's final loss (the points of the loss-vs-width figure).
FINAL_COLUMNS = ("depth", "n_features", "n_hidden", "seed", "metric", "value")
WIDTH_COLUMNS = ("depth", "n_features", "metric", "statistic", "threshold", "min_n_hidden", "solved", "max_n_hidden")


def final_losses(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of each run's last step (the trained model)."""
    last = runs.groupby(["depth", "seed"])["step"].transform("max")
    return runs[runs["step"] == last]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Final loss per (depth, n_hidden, metric) over seeds (instances): mean with 95% CI, min, median, max."""
    finals = final_losses(runs)
    out = summarize_over_seeds(finals, SUMMARY_KEYS)
    extremes = finals.groupby(SUMMARY_KEYS, sort=True)["value"].agg(["min", "median", "max"]).reset_index()
    return out.merge(extremes, on=SUMMARY_KEYS)[list(SUMMARY_COLUMNS)]


def seed_finals(runs: pd.DataFrame) -> pd.DataFrame:
    """Every seed's final loss per (depth, n_hidden, metric): the table the figures draw seeds from."""
    finals = final_losses(runs)
    return finals.sort_values(["metric", "depth", "n_hidden", "seed"])[list(FINAL_COLUMNS)].reset_index(drop=True)


def constant_output_loss(depth: int, mode: str) -> float:
    """The loss of the best model that ignores its input (W = 0, b_i = E[x_i]): mean_i p_i (1 - p_i).

    The reference of the "the model trained" precondition: a model is trained only if it does clearly
    better than this (exact; the features are Bernoulli(p_i), importance 1, loss = mean over features).
    """
    p = expected_marginals(depth, mode)
    return float(np.mean(p * (1.0 - p)))


def tms_constant_output_loss(importance: np.ndarray, sparsity: float) -> float:
    """The TMS sweep's input-ignoring baseline: mean_i I_i Var(x_i), x_i = U[0, 1) with probability 1 - S
    (Var = p/3 - p^2/4, p = 1 - S)."""
    p = 1.0 - float(sparsity)
    return float(np.mean(np.asarray(importance, dtype=float) * (p / 3.0 - p * p / 4.0)))


def width_needed(summary: pd.DataFrame, metric: str, statistic: str, threshold: float) -> pd.DataFrame:
    """Per depth: the smallest n_hidden whose loss (``statistic`` over seeds) is below ``threshold``.

    ``solved`` is False when no tested width gets there; ``min_n_hidden`` is then NaN (the notebook
    silently reported the largest tested width instead, which reads as a solution).
    """
    rows = []
    for (depth, nf), g in summary[summary["metric"] == metric].groupby(["depth", "n_features"], sort=True):
        g = g.sort_values("n_hidden")
        below = g[g[statistic] < threshold]
        rows.append(
            dict(
                depth=int(depth),
                n_features=int(nf),
                metric=metric,
                statistic=statistic,
                threshold=float(threshold),
                min_n_hidden=float(below["n_hidden"].iloc[0]) if len(below) else np.nan,
                solved=bool(len(below)),
                max_n_hidden=int(g["n_hidden"].max()),
            )
        )
    return pd.DataFrame(rows, columns=list(WIDTH_COLUMNS))


def directions(weights: pd.DataFrame, depth: int, seed: int, n_hidden: int = 2) -> pd.DataFrame:
    """The columns W_i (feature directions in hidden space) of one model, with each feature's tree level."""
    sel = weights[
        (weights["depth"] == depth)
        & (weights["seed"] == seed)
        & (weights["n_hidden"] == n_hidden)
        & (weights["param"] == "W")
    ]
    if sel.empty:
        raise ValueError(
            f"config key 'hierarchy.analysis.directions_depth': no n_hidden={n_hidden} model for depth "
            f"{depth}, seed {seed} in the runs"
        )
    wide = sel.pivot_table(index=["feature", "level"], columns="hidden", values="value").reset_index()
    wide.columns = ["feature", "level", *[f"h{c}" for c in wide.columns[2:]]]
    return wide.assign(depth=depth, seed=seed, n_hidden=n_hidden)


def tms_geometry(weights: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (seed, sparsity): per-feature norm ||W_i||, interference sum_{j!=i} (W^_i . W_j)^2 and bias;
    and the Gram matrix W^T W in long format (seed, sparsity, i, j, value)."""
    feats, grams = [], []
    for (seed, sparsity), g in weights.groupby(["seed", "sparsity"], sort=True):
        W = g[g["param"] == "W"].pivot_table(index="hidden", columns="feature", values="value").to_numpy()
        b = g[g["param"] == "b"].sort_values("feature")
        imp = b["importance"].to_numpy()
        norms = np.linalg.norm(W, axis=0)
        unit = W / np.maximum(norms, 1e-12)
        overlap = unit.T @ W  # (i, j): W^_i . W_j
        np.fill_diagonal(overlap, 0.0)
        nf = W.shape[1]
        feats.append(
            pd.DataFrame(
                dict(
                    seed=seed,
                    sparsity=sparsity,
                    feature=np.arange(nf),
                    importance=imp,
                    norm=norms,
                    interference=(overlap**2).sum(1),
                    bias=b["value"].to_numpy(),
                )
            )
        )
        gram = W.T @ W
        i, j = np.meshgrid(np.arange(nf), np.arange(nf), indexing="ij")
        grams.append(pd.DataFrame(dict(seed=seed, sparsity=sparsity, i=i.ravel(), j=j.ravel(), value=gram.ravel())))
    return pd.concat(feats, ignore_index=True), pd.concat(grams, ignore_index=True)


def tms_tables(weights: pd.DataFrame, metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The TMS sweep's per-feature table (:func:`tms_geometry` plus each run's ``final_loss`` and
    ``initial_loss``, both on the run's fixed evaluation batch) and W^T W."""
    features, gram = tms_geometry(weights)
    keys = ["seed", "sparsity", "value"]
    last = metrics[metrics["step"] == metrics["step"].max()][keys].rename(columns={"value": "final_loss"})
    first = metrics[metrics["step"] == metrics["step"].min()][keys].rename(columns={"value": "initial_loss"})
    return features.merge(last, on=["seed", "sparsity"]).merge(first, on=["seed", "sparsity"]), gram


def aggregate_job(smk: Any) -> None:
    """All runs (one per seed, every depth) in one table; every seed's final loss; loss summaries
    over seeds; the width each depth needs; the 2-D feature directions for figure (e).

    The job of rule ``hierarchy_aggregate``.
    """
    import pandas as pd

    from featurelab.io import read_frame, read_provenance, write_table
    from featurelab.provenance import provenance

    runs = pd.concat([read_frame(path) for path in smk.input.metrics], ignore_index=True)
    weights = pd.concat([read_frame(path) for path in smk.input.weights], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input.metrics]
    shared = {k: v for k, v in inputs[0]["config"].items() if k != "seed"}
    analysis = dict(smk.params.analysis)
    record = provenance(
        {**shared, "analysis": analysis},
        rule=smk.rule,
        runs=[{"seed": p["config"]["seed"], "config_hash": p["config_hash"]} for p in inputs],
    )
    summary = summarize(runs)
    write_table(runs, smk.output.runs, record)
    write_table(summary, smk.output.summary, record)
    write_table(seed_finals(runs), smk.output.finals, record)
    write_table(
        width_needed(summary, analysis["metric"], analysis["statistic"], float(analysis["loss_threshold"])),
        smk.output.width_needed,
        record,
    )
    seed = int(runs["seed"].min())  # figure (e) shows the first seed
    write_table(directions(weights, int(analysis["directions_depth"]), seed), smk.output.directions, record)


def aggregate_tms_job(smk: Any) -> None:
    """Per-feature norms, interference and biases, and W^T W, of the TMS sweep.

    The job of rule ``hierarchy_aggregate_tms``.
    """
    import pandas as pd

    from featurelab.io import read_frame, read_provenance, write_table
    from featurelab.provenance import provenance

    weights = pd.concat([read_frame(path) for path in smk.input.weights], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input.weights]
    record = provenance(
        inputs[0]["config"]["tms"],
        rule=smk.rule,
        runs=[{"seed": p["config"]["seed"], "config_hash": p["config_hash"]} for p in inputs],
    )
    losses = pd.concat([read_frame(path) for path in smk.input.metrics], ignore_index=True)
    features, gram = tms_tables(weights, losses)
    write_table(features, smk.output.features, record)
    write_table(gram, smk.output.gram, record)
