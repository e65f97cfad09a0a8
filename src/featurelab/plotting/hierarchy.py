"""Figures of the hierarchy study, drawn from its aggregated tables only.

Each figure function takes ``tables`` (name -> DataFrame, the aggregated parquet files it needs, see
``FIGURE_TABLES``) and ``analysis`` (the config's ``hierarchy.analysis``: which loss and statistic).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, TwoSlopeNorm

from featurelab.plotting.style import PALETTE, PANEL_HEIGHT, PANEL_WIDTH, panels
from featurelab.studies.hierarchy import FIGURE_TABLES  # noqa: F401  (re-exported)

#: Smallest loss shown on log scales (exact zeros, e.g. depth 1, are drawn at this floor).
LOSS_FLOOR = 1e-12

STAT_WORDS = {"min": "minimum over seeds", "mean": "mean over seeds"}


def _loss(summary: pd.DataFrame, analysis: Mapping[str, Any]) -> pd.DataFrame:
    return summary[summary["metric"] == analysis["metric"]]


def loss_heatmap(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(a) Final loss over tree depth x n_hidden, log colour scale; blank where n_hidden > n_features."""
    data = _loss(tables["summary"], analysis)
    stat = analysis["statistic"]
    grid = data.pivot_table(index="depth", columns="n_hidden", values=stat)
    nf = data.groupby("depth")["n_features"].first()
    fig, ax = plt.subplots(figsize=(PANEL_WIDTH * 1.6, PANEL_HEIGHT * 1.3), layout="constrained")
    values = np.clip(grid.to_numpy(dtype=float), LOSS_FLOOR, None)
    masked = np.ma.masked_invalid(values)
    image = ax.imshow(masked, norm=LogNorm(vmin=max(LOSS_FLOOR, np.nanmin(values)), vmax=np.nanmax(values)),
                      cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{d} ({nf[d]})" for d in grid.index])
    for (r, c), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(c, r, f"{v:.0e}" if v > LOSS_FLOOR else "0", ha="center", va="center", fontsize=5,
                    color="white" if np.log10(max(v, LOSS_FLOOR)) < np.log10(np.nanmax(values)) - 3 else "black")
    ax.set_xlabel("hidden width n_hidden (dimensions)")
    ax.set_ylabel("tree depth (number of features)")
    fig.colorbar(image, ax=ax, label=f"{analysis['metric']} ({STAT_WORDS[stat]}, MSE)")
    ax.set_title("Loss over tree depth and hidden width (blank: n_hidden > n_features)")
    return fig


def loss_vs_width(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(b) Loss against n_hidden, one line per depth: mean with 95% CI over seeds, minimum dotted."""
    data = _loss(tables["summary"], analysis)
    fig, axes = panels(1, ncols=1)
    ax = axes[0]
    for k, (depth, g) in enumerate(data.groupby("depth", sort=True)):
        g = g.sort_values("n_hidden")
        color = PALETTE[k % len(PALETTE)]
        clip = lambda s: np.clip(s.to_numpy(dtype=float), LOSS_FLOOR, None)  # noqa: E731
        # seeds are often bimodal (solved ~1e-15 vs stuck ~1e-3): a light band keeps the lines readable
        ax.plot(g["n_hidden"], clip(g["mean"]), color=color, lw=1.5, marker="o", ms=3,
                label=f"depth {depth} ({g['n_features'].iloc[0]} features, n={int(g['n'].max())})")
        ax.fill_between(g["n_hidden"], clip(g["ci_low"]), clip(g["ci_high"]), color=color, alpha=0.1, lw=0)
        ax.plot(g["n_hidden"], clip(g["min"]), color=color, ls=":", lw=1)
    ax.axhline(float(analysis["loss_threshold"]), color="0.5", ls="--", lw=0.8, label="threshold")
    ax.set_yscale("log")
    ax.set_xlabel("hidden width n_hidden (dimensions)")
    ax.set_ylabel(f"{analysis['metric']} (MSE per feature)")
    ax.set_title("Loss vs width: mean and 95% CI over seeds (dotted: minimum)")
    ax.legend(fontsize=6, loc="lower left")
    fig.set_size_inches(PANEL_WIDTH * 1.6, PANEL_HEIGHT * 1.4)
    return fig


def width_needed(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(c) The smallest n_hidden with loss below the threshold, per depth, against n_features."""
    w = tables["width_needed"]
    fig, axes = panels(1, ncols=1)
    ax = axes[0]
    solved, unsolved = w[w["solved"]], w[~w["solved"]]
    ax.plot(solved["n_features"], solved["min_n_hidden"], "o-", color=PALETTE[0], label="smallest width solving it")
    if len(unsolved):
        ax.scatter(unsolved["n_features"], unsolved["max_n_hidden"], marker="^", facecolors="none",
                   edgecolors=PALETTE[3], label="not solved up to this width")
    for r in w.itertuples():
        ax.annotate(f"d={r.depth}", (r.n_features, r.min_n_hidden if r.solved else r.max_n_hidden),
                    textcoords="offset points", xytext=(3, 3), fontsize=6)
    top = max(w["max_n_hidden"].max(), 2)
    xs = np.array([w["n_features"].min(), w["n_features"].max()])
    ax.plot(xs, np.minimum(xs, top * 1.5), color="0.6", ls="--", lw=0.8, label="n_hidden = n_features")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of features (2^(depth+1) - 2)")
    ax.set_ylabel("smallest n_hidden (dimensions)")
    ax.set_title(f"Width needed for {analysis['metric']} < {float(analysis['loss_threshold']):g}\n"
                 f"({STAT_WORDS[analysis['statistic']]})")
    ax.legend(fontsize=6)
    return fig


def tms_sparsity(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(d) The superposition paper's signature figure: per sparsity, W^T W, bias, and ||W_i|| coloured by
    interference, for the first seed."""
    feats, gram = tables["tms_features"], tables["tms_gram"]
    seed = int(feats["seed"].min())
    feats, gram = feats[feats["seed"] == seed], gram[gram["seed"] == seed]
    sparsities = sorted(feats["sparsity"].unique())
    n = len(sparsities)
    fig, axes = plt.subplots(3, n, figsize=(1.4 * n + 0.8, 5.2), squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": [1.0, 0.5, 1.2]})
    vmax = float(np.abs(gram["value"]).max()) or 1.0
    cmap = plt.get_cmap("viridis")
    for k, s in enumerate(sparsities):
        g = gram[gram["sparsity"] == s].pivot_table(index="i", columns="j", values="value").to_numpy()
        f = feats[feats["sparsity"] == s].sort_values("feature")
        im = axes[0, k].imshow(g, cmap="RdBu", norm=TwoSlopeNorm(0.0, -vmax, vmax))
        axes[0, k].set_title(f"sparsity {s:g}", fontsize=7)
        axes[0, k].set_xticks([]); axes[0, k].set_yticks([])
        axes[1, k].bar(f["feature"], f["bias"], color=PALETTE[7], width=0.8)
        axes[1, k].axhline(0, color="0.4", lw=0.5)
        axes[1, k].set_xticks([])
        colors = cmap(np.clip(f["interference"].to_numpy(), 0, 1))
        axes[2, k].barh(f["feature"], f["norm"], color=colors, height=0.8)
        axes[2, k].invert_yaxis()
        axes[2, k].set_xlim(0, max(1.2, float(feats["norm"].max()) * 1.05))
        axes[2, k].set_xlabel("||W_i||", fontsize=7)
        if k:
            axes[1, k].sharey(axes[1, 0]); axes[1, k].tick_params(labelleft=False)
            axes[2, k].tick_params(labelleft=False)
    axes[0, 0].set_ylabel("W^T W\n(feature x feature)", fontsize=7)
    axes[1, 0].set_ylabel("bias b_i", fontsize=7)
    axes[2, 0].set_ylabel("feature i (importance 0.7^i)", fontsize=7)
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="W^T W")
    fig.colorbar(plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1)), ax=axes[2, :].tolist(), shrink=0.8,
                 label="interference (clipped at 1)")
    fig.suptitle(f"TMS sparsity sweep (seed {seed}): bars = ||W_i|| coloured by interference "
                 f"sum_(j!=i) (W^_i . W_j)^2", fontsize=9)
    return fig


def feature_directions_2d(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(e) The 2-D feature directions W_i of one n_hidden = 2 model, coloured by tree level."""
    d = tables["directions"]
    fig, axes = panels(1, ncols=1)
    ax = axes[0]
    for level, g in d.groupby("level", sort=True):
        color = PALETTE[(int(level) - 1) % len(PALETTE)]
        for r in g.itertuples():
            ax.plot([0, r.h0], [0, r.h1], color=color, lw=1, alpha=0.8)
        ax.scatter(g["h0"], g["h1"], color=color, s=14, label=f"level {level} ({len(g)} features)", zorder=3)
    lim = 1.15 * max(float(np.abs(d[["h0", "h1"]]).to_numpy().max()), 1e-3)
    ax.set_xlim(-lim, lim); ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.8", lw=0.5); ax.axvline(0, color="0.8", lw=0.5)
    ax.set_xlabel("hidden dimension 1 (weight)")
    ax.set_ylabel("hidden dimension 2 (weight)")
    ax.set_title(f"Feature directions, depth {int(d['depth'].iloc[0])}, n_hidden 2, seed {int(d['seed'].iloc[0])}")
    ax.legend(fontsize=6, loc="best")
    fig.set_size_inches(PANEL_WIDTH * 1.3, PANEL_WIDTH * 1.3)
    return fig


FIGURES: dict[str, Callable] = {
    "loss_heatmap": loss_heatmap,
    "loss_vs_width": loss_vs_width,
    "width_needed": width_needed,
    "tms_sparsity": tms_sparsity,
    "feature_directions_2d": feature_directions_2d,
}
