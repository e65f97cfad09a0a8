"""Figures of the complexity study, drawn from ``results/complexity/summary.parquet`` only."""

from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from featurelab.plotting.style import PALETTE, PANEL_HEIGHT, PANEL_WIDTH, band, panels


def _feature_colors(summary: pd.DataFrame) -> dict[str, tuple]:
    """One colour per feature name, the same in every panel and figure (linear always first)."""
    names = sorted(summary["feature"].unique(), key=lambda f: (f != "linear", f))
    names = [n for n in names if n != "all"]
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _feature_curves(ax, data: pd.DataFrame, colors: dict[str, tuple]) -> None:
    """One mean line with its 95% CI band per feature of one condition's rows."""
    for (index, feature), curve in data.groupby(["feature_index", "feature"], sort=True):
        curve = curve.sort_values("epoch")
        band(ax, curve["epoch"], curve["mean"], curve["ci_low"], curve["ci_high"], colors[feature],
             f"{feature} (n={int(curve['n'].max())} seeds)" if feature != "all" else "total variance")


def _legend_below(fig, axes) -> None:
    """One legend for the whole figure, below the panels (off the curves); entries deduplicated."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=min(len(entries), 4))


def _curve_panels(summary: pd.DataFrame, split: str, metric: str, ylabel: str, chance: float | None = None):
    data = summary[(summary["split"] == split) & (summary["metric"] == metric) & (summary["epoch"] >= 0)]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = _feature_colors(summary)
    fig, axes = panels(len(conditions))
    for ax, condition in zip(axes, conditions):
        _feature_curves(ax, data[data["condition"] == condition], colors)
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
    ("r2_weighted_normalized", "normalised variance explained\n$R^2_t \\cdot TV_t / TV_{final}$"),
    ("r2_weighted", "raw variance explained $R^2_t$\n(variance-weighted)"),
    ("total_variance", "total variance $TV_t$\n(sum of unit variances,\nactivation$^2$)"),
)


def variance_curves(summary: pd.DataFrame):
    """(a) The paper's Fig. 2 (normalised variance explained by each feature over training), above the raw
    R^2 and the total variance of the penultimate layer it is computed from."""
    test = summary[(summary["split"] == "test") & (summary["epoch"] >= 0)]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = _feature_colors(summary) | {"all": "0.2"}
    n = len(conditions)
    fig, grid = plt.subplots(len(VARIANCE_ROWS), n, figsize=(PANEL_WIDTH * min(n, 4), PANEL_HEIGHT * 2.4),
                             squeeze=False, sharex="col", sharey="row", layout="constrained")
    for row, (metric, ylabel) in zip(grid, VARIANCE_ROWS):
        for ax, condition in zip(row, conditions):
            _feature_curves(ax, test[(test["metric"] == metric) & (test["condition"] == condition)], colors)
            if metric != "total_variance":
                ax.set_ylim(-0.02, 1.02)
        row[0].set_ylabel(ylabel)
    for ax, condition in zip(grid[0], conditions):
        ax.set_title(condition.replace("-vs-", " vs "))
    for ax in grid[-1]:
        ax.set_xlabel("training epoch")
    _legend_below(fig, list(grid.flat))
    fig.suptitle("Share of the penultimate layer's variance explained by each feature (test split; mean, 95% CI "
                 "over seeds)", fontsize=9)
    return fig


def accuracy_curves(summary: pd.DataFrame):
    """(b) Test accuracy of each feature over training: both are learned."""
    fig = _curve_panels(summary, "test", "accuracy", "test accuracy (fraction correct)", chance=0.5)
    fig.suptitle("Both features are learned (test accuracy, mean and 95% CI over seeds)", fontsize=9)
    return fig


def final_variance(summary: pd.DataFrame):
    """(c) Final variance explained by the easy and the hard feature across all configured pairs."""
    finals = summary[(summary["epoch"] == -1) & (summary["split"] == "test")]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = _feature_colors(summary)
    fig, axes = panels(2, ncols=2, sharey=True)
    metrics = [("r2_weighted", "variance-weighted $R^2$\n(share of total variance; paper)"),
               ("r2_unweighted", "mean per-unit $R^2$\n(notebook's sklearn .score)")]
    x = np.arange(len(conditions))
    for ax, (metric, title) in zip(axes, metrics):
        sel = finals[finals["metric"] == metric]
        width = 0.38
        for role, offset in (("easy", -width / 2), ("hard", width / 2)):
            rows = []
            for condition in conditions:
                c = sel[sel["condition"] == condition].sort_values("feature_index")
                rows.append(c[c["feature"] == "linear"].iloc[0] if role == "easy" else c[c["feature"] != "linear"].iloc[0])
            rows = pd.DataFrame(rows)
            err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
            ax.bar(x + offset, rows["mean"], width, yerr=err, capsize=2,
                   color=[colors[f] for f in rows["feature"]] if role == "hard" else colors["linear"],
                   edgecolor="black", lw=0.5, hatch="" if role == "easy" else "//",
                   label="easy feature (linear)" if role == "easy" else "hard feature")
        ax.set_xticks(x, [c.split("-vs-")[1] if c.startswith("linear") else c for c in conditions], rotation=30,
                      ha="right")
        ax.set_xlabel("hard feature trained alongside 'linear'")
        ax.set_title(title)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("final variance explained ($R^2$)")
    _legend_below(fig, axes)
    fig.suptitle("Final variance explained by each feature of each pair (mean, 95% CI over seeds)", fontsize=9)
    return fig


FIGURES: dict[str, Callable[[pd.DataFrame], object]] = {
    "variance_curves": variance_curves,
    "accuracy_curves": accuracy_curves,
    "final_variance": final_variance,
}
