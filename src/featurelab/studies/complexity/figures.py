"""Figures of the complexity study, drawn from the aggregated tables only: ``summary.parquet`` (mean and
95% CI over seeds) and ``runs.parquet`` (every seed, drawn as thin lines or points, so that seeds that
disagree or stop at different epochs under early stopping stay visible)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from featurelab.figure_registry import Figure
from featurelab.plotting import PALETTE, PANEL_HEIGHT, PANEL_WIDTH, band, panels
from featurelab.studies.complexity.analysis import final_values


def _feature_colors(summary: pd.DataFrame) -> dict[str, tuple]:
    """One colour per feature name, the same in every panel and figure (linear always first)."""
    names = sorted(summary["feature"].unique(), key=lambda f: (f != "linear", f))
    names = [n for n in names if n != "all"]
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


SEED_LINES = "single seeds (thin lines)"


def _feature_curves(ax, data: pd.DataFrame, seeds: pd.DataFrame, colors: dict[str, tuple]) -> None:
    """Per feature of one condition: every seed as a thin line, and the mean with its 95% CI band over
    the epochs that every seed reached (with early stopping, later epochs would average a shrinking,
    selected set of seeds)."""
    for (index, feature), curve in data.groupby(["feature_index", "feature"], sort=True):
        for _, seed_curve in seeds[seeds["feature_index"] == index].groupby("seed"):
            seed_curve = seed_curve.sort_values("epoch")
            ax.plot(
                seed_curve["epoch"], seed_curve["value"], color=colors[feature], lw=0.6, alpha=0.45, label=SEED_LINES
            )
        n_seeds = int(curve["n"].max())
        truncated = bool((curve["n"] < n_seeds).any())
        curve = curve[curve["n"] == n_seeds].sort_values("epoch")
        what = f"mean of {n_seeds} seeds" + (", up to the first stop" if truncated else "")
        band(
            ax,
            curve["epoch"],
            curve["mean"],
            curve["ci_low"],
            curve["ci_high"],
            colors[feature],
            f"{feature} ({what})" if feature != "all" else f"total variance ({what})",
        )


def _legend_below(fig, axes) -> None:
    """One legend for the whole figure, below the panels (off the curves); entries deduplicated."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if SEED_LINES in entries:  # last, as a grey proxy: the thin lines are in each feature's colour
        entries.pop(SEED_LINES)
        entries[SEED_LINES] = plt.Line2D([], [], color="0.4", lw=0.6, alpha=0.6)
    columns = max(1, min(len(entries), 4, int(fig.get_figwidth() // 2.4)))  # as many as fit the width
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=columns)


def _grid(nrows: int, ncols: int, sharey: bool | str = True):
    """A figure of nrows x ncols panels, at least two panels wide so that the title and legend fit."""
    return plt.subplots(
        nrows,
        ncols,
        figsize=(PANEL_WIDTH * max(ncols, 2), PANEL_HEIGHT * nrows),
        squeeze=False,
        sharex="col",
        sharey=sharey,
        layout="constrained",
    )


def _curve_panels(
    summary: pd.DataFrame, runs: pd.DataFrame, split: str, metric: str, ylabel: str, chance: float | None = None
):
    data = summary[(summary["split"] == split) & (summary["metric"] == metric) & (summary["epoch"] >= 0)]
    seeds = runs[(runs["split"] == split) & (runs["metric"] == metric)]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = _feature_colors(summary)
    fig, grid = _grid(1, len(conditions))
    axes = list(grid.flat)
    for ax, condition in zip(axes, conditions):
        _feature_curves(ax, data[data["condition"] == condition], seeds[seeds["condition"] == condition], colors)
        if chance is not None:
            ax.axhline(chance, color="0.6", ls=":", lw=1, label="chance")
        ax.set_title(condition.replace("-vs-", " vs "))
        ax.set_xlabel("training epoch")
    axes[0].set_ylabel(ylabel)
    _legend_below(fig, axes)
    return fig


#: Rows of the variance-curves figure: (metric, y label). The first is the paper's Fig. 2; the other two
#: are its ingredients, so a reader can check the normalisation R2_t * TV_t / TV_final by eye.
VARIANCE_ROWS = (
    ("r2_weighted_normalized", "normalised $R^2$:\n$R^2_t \\cdot TV_t / TV_{final}$"),
    ("r2_weighted", "raw $R^2_t$\n(variance-weighted)"),
    ("total_variance", "total variance $TV_t$\n(activation$^2$)"),
)


def variance_curves(summary: pd.DataFrame, runs: pd.DataFrame):
    """(a) The paper's Fig. 2 (normalised variance explained by each feature over training), above the raw
    R^2 and the total variance TV_t (sum over units of their variance) it is computed from."""
    test = summary[(summary["split"] == "test") & (summary["epoch"] >= 0)]
    seeds = runs[runs["split"] == "test"]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = _feature_colors(summary) | {"all": "0.2"}
    n = len(conditions)
    fig, grid = _grid(len(VARIANCE_ROWS), n, sharey="row")
    for row, (metric, ylabel) in zip(grid, VARIANCE_ROWS):
        for ax, condition in zip(row, conditions):
            _feature_curves(
                ax,
                test[(test["metric"] == metric) & (test["condition"] == condition)],
                seeds[(seeds["metric"] == metric) & (seeds["condition"] == condition)],
                colors,
            )
            if metric == "r2_weighted":  # the normalised curve exceeds 1 where TV_t > TV_final: not clipped
                ax.set_ylim(-0.02, 1.02)
        row[0].set_ylabel(ylabel)
    for ax, condition in zip(grid[0], conditions):
        ax.set_title(condition.replace("-vs-", " vs "))
    for ax in grid[-1]:
        ax.set_xlabel("training epoch")
    _legend_below(fig, list(grid.flat))
    fig.suptitle(
        "Penultimate-layer variance explained by each feature\n(test split; mean, 95% CI, every seed)", fontsize=9
    )
    return fig


def accuracy_curves(summary: pd.DataFrame, runs: pd.DataFrame):
    """(b) Test accuracy of each feature over training: both are learned."""
    fig = _curve_panels(summary, runs, "test", "accuracy", "test accuracy (fraction correct)", chance=0.5)
    fig.suptitle("Both features are learned\n(test accuracy; mean, 95% CI, every seed)", fontsize=9)
    return fig


def final_variance(summary: pd.DataFrame, runs: pd.DataFrame):
    """(c) Final variance explained by the easy and the hard feature across all configured pairs."""
    finals = summary[(summary["epoch"] == -1) & (summary["split"] == "test")]
    per_seed = final_values(runs)
    per_seed = per_seed[per_seed["split"] == "test"]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = _feature_colors(summary)
    fig, axes = panels(2, ncols=2, sharey=True)
    metrics = [
        ("r2_weighted", "variance-weighted $R^2$\n(share of total variance; paper)"),
        ("r2_unweighted", "mean per-unit $R^2$\n(notebook's sklearn .score)"),
    ]
    x = np.arange(len(conditions))
    for ax, (metric, title) in zip(axes, metrics):
        sel = finals[finals["metric"] == metric]
        width = 0.38
        for role, offset in (("easy", -width / 2), ("hard", width / 2)):
            rows = []
            for condition in conditions:
                c = sel[sel["condition"] == condition].sort_values("feature_index")
                rows.append(
                    c[c["feature"] == "linear"].iloc[0] if role == "easy" else c[c["feature"] != "linear"].iloc[0]
                )
            rows = pd.DataFrame(rows)
            err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
            ax.bar(
                x + offset,
                rows["mean"],
                width,
                yerr=err,
                capsize=2,
                color=[colors[f] for f in rows["feature"]] if role == "hard" else colors["linear"],
                edgecolor="black",
                lw=0.5,
                hatch="" if role == "easy" else "//",
                label="easy feature (linear)" if role == "easy" else "hard feature",
            )
            for i, (condition, feature) in enumerate(zip(conditions, rows["feature"])):
                values = per_seed[
                    (per_seed["metric"] == metric)
                    & (per_seed["condition"] == condition)
                    & (per_seed["feature"] == feature)
                ]["value"].to_numpy()
                jitter = np.linspace(-width / 4, width / 4, len(values)) if len(values) > 1 else np.zeros(1)
                ax.scatter(
                    x[i] + offset + jitter[: len(values)],
                    values,
                    s=9,
                    color="black",
                    zorder=3,
                    lw=0,
                    label="single seeds",
                )
        ax.set_xticks(
            x, [c.split("-vs-")[1] if c.startswith("linear") else c for c in conditions], rotation=30, ha="right"
        )
        ax.set_xlabel("hard feature trained alongside 'linear'")
        ax.set_title(title)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("final variance explained ($R^2$)")
    _legend_below(fig, axes)
    fig.suptitle("Final variance explained by each feature of each pair\n(mean, 95% CI, every seed)", fontsize=9)
    return fig


#: Figure name -> drawing function of (summary table, runs table).
#: The study's figures (featurelab.figure_registry): name -> the tables it reads and the function drawing it.
FIGURES: dict[str, Figure] = {
    "variance_curves": Figure(("summary", "runs"), variance_curves),
    "accuracy_curves": Figure(("summary", "runs"), accuracy_curves),
    "final_variance": Figure(("summary", "runs"), final_variance),
}


def draw(figure: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Figure ``figure`` from the rule's tables (its named inputs) and params (scripts/figure.py)."""
    return FIGURES[figure].draw(tables["summary"], tables["runs"])
