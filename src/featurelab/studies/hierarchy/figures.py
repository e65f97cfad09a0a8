"""Figures of the hierarchy study, drawn from its aggregated tables only.

Each figure function takes ``tables`` (name -> DataFrame, the aggregated parquet files it needs, see
``FIGURES``) and ``analysis`` (the config's ``hierarchy.analysis``: which loss and statistic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, TwoSlopeNorm
from matplotlib.ticker import NullLocator

from featurelab.figure_registry import Figure
from featurelab.plotting import PALETTE, PANEL_HEIGHT, PANEL_WIDTH, panels

#: Smallest loss shown on log scales (exact zeros, e.g. depth 1, are drawn at this floor).
LOSS_FLOOR = 1e-12

STAT_WORDS = {"min": "minimum over seeds", "median": "median over seeds", "mean": "mean over seeds"}


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
    image = ax.imshow(
        masked,
        norm=LogNorm(vmin=max(LOSS_FLOOR, np.nanmin(values)), vmax=np.nanmax(values)),
        cmap="viridis",
        aspect="auto",
        origin="lower",
    )
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{d} ({nf[d]})" for d in grid.index])
    for (r, c), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(
                c,
                r,
                f"{v:.0e}" if v > LOSS_FLOOR else "0",
                ha="center",
                va="center",
                fontsize=5,
                color="white" if np.log10(max(v, LOSS_FLOOR)) < np.log10(np.nanmax(values)) - 3 else "black",
            )
    ax.set_xlabel("hidden width n_hidden (dimensions)")
    ax.set_ylabel("tree depth (number of features)")
    fig.colorbar(image, ax=ax, label=f"{analysis['metric']} ({STAT_WORDS[stat]}, MSE)")
    ax.set_title("Loss over tree depth and hidden width (blank: n_hidden > n_features)")
    return fig


def loss_vs_width(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(b) Loss against n_hidden, one line per depth: the claims' statistic over seeds, every seed a point.

    Seeds are bimodal (solved ~1e-15 vs stuck ~1e-3), so a mean with a t-interval would span decades and
    follow the one stuck seed; the line is the statistic the claims and width-needed use
    (``analysis.statistic``), and each seed's own loss is drawn as a point (slightly offset in x by seed).
    """
    data = _loss(tables["summary"], analysis)
    finals = tables["finals"]
    finals = finals[finals["metric"] == analysis["metric"]]
    stat = analysis["statistic"]
    seeds = sorted(finals["seed"].unique())
    offset = {s: (k - (len(seeds) - 1) / 2) * 0.06 for k, s in enumerate(seeds)}
    fig, ax = plt.subplots(figsize=(PANEL_WIDTH * 2.0, PANEL_HEIGHT * 1.4), layout="constrained")
    for k, (depth, g) in enumerate(data.groupby("depth", sort=True)):
        g = g.sort_values("n_hidden")
        color = PALETTE[k % len(PALETTE)]
        ax.plot(
            g["n_hidden"],
            np.clip(g[stat].to_numpy(dtype=float), LOSS_FLOOR, None),
            color=color,
            lw=1.5,
            marker="o",
            ms=3.5,
            label=f"depth {depth} ({g['n_features'].iloc[0]} features)",
            zorder=3,
        )
        f = finals[finals["depth"] == depth]
        ax.scatter(
            f["n_hidden"] + f["seed"].map(offset),
            np.clip(f["value"].to_numpy(dtype=float), LOSS_FLOOR, None),
            s=9,
            facecolors="none",
            edgecolors=color,
            linewidths=0.7,
            alpha=0.9,
            zorder=2,
        )
    ax.axhline(
        float(analysis["loss_threshold"]),
        color="0.4",
        ls="--",
        lw=0.8,
        label=f"threshold {float(analysis['loss_threshold']):g}",
    )
    ax.axhspan(LOSS_FLOOR / 3, LOSS_FLOOR * 1.5, color="0.92", lw=0, zorder=0)
    ax.scatter([], [], s=9, facecolors="none", edgecolors="0.3", linewidths=0.7, label=f"one seed (n={len(seeds)})")
    ax.set_yscale("log")
    ax.set_ylim(LOSS_FLOOR / 3, None)
    ax.set_xticks(sorted(data["n_hidden"].unique()))
    ax.set_xlabel("hidden width n_hidden (dimensions)")
    ax.set_ylabel(f"final {analysis['metric']} (MSE per feature)")
    ax.set_title(
        f"Loss vs width: line = {STAT_WORDS[stat]}, circles = each seed\n"
        f"(grey band: losses <= {LOSS_FLOOR:g}, exact up to float rounding, drawn at {LOSS_FLOOR:g})"
    )
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def width_needed(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(c) The smallest n_hidden with loss below the threshold, per depth, against n_features.

    Log-log axes, as the claim's slope is measured: the identity n_hidden = n_features is then the
    diagonal (drawn densely, so it is a true identity whatever the axis scale), and a slope-1/2 line
    through the shallowest solved depth shows the claim's threshold. Widths are integers: integer ticks.
    Each seed's own width needed (from ``finals``) is a small open circle, offset a little in x by seed.
    """
    w = tables["width_needed"]
    fig, axes = panels(1, ncols=1)
    ax = axes[0]
    fig.set_size_inches(PANEL_WIDTH * 1.6, PANEL_HEIGHT * 1.3)
    finals = tables["finals"]
    _draw_seed_widths(ax, finals[finals["metric"] == analysis["metric"]], float(analysis["loss_threshold"]))
    _draw_widths_needed(ax, w)
    xs = _draw_reference_lines(ax, w)
    _width_axes(ax, w, xs)
    threshold, statistic = float(analysis["loss_threshold"]), STAT_WORDS[analysis["statistic"]]
    ax.set_title(f"Width needed for {analysis['metric']} < {threshold:g}\n({statistic})")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def _seed_widths(finals: pd.DataFrame, threshold: float, seeds: list) -> list[tuple[float, float, bool]]:
    """Each seed's width needed per depth: (n_features, offset a little by seed so that the seeds of one
    depth do not hide each other; the smallest width below ``threshold``, else the largest width tried;
    whether any width was below it)."""
    out = []
    for (_depth, nf, seed), g in finals.groupby(["depth", "n_features", "seed"], sort=True):
        below = g[g["value"] < threshold]["n_hidden"]
        out.append(
            (
                nf * 1.06 ** (seeds.index(seed) - (len(seeds) - 1) / 2),
                below.min() if len(below) else g["n_hidden"].max(),
                bool(len(below)),
            )
        )
    return out


def _draw_seed_widths(ax, finals: pd.DataFrame, threshold: float) -> None:
    """Each seed's width needed as a small open marker (a triangle where no width solved it), so that the
    spread behind the statistic the line shows stays visible."""
    seeds = sorted(finals["seed"].unique())
    per_seed = _seed_widths(finals, threshold, seeds)
    if not per_seed:
        return
    x, y, ok = (np.array(v) for v in zip(*per_seed))
    style = {"s": 10, "facecolors": "none", "edgecolors": PALETTE[2], "linewidths": 0.7, "zorder": 2}
    ax.scatter(x[ok], y[ok], label=f"one seed (n={len(seeds)})", **style)
    if (~ok).any():
        ax.scatter(x[~ok], y[~ok], marker="^", label="one seed, not solved up to this width", **style)


def _draw_widths_needed(ax, w: pd.DataFrame) -> None:
    """The statistic's width needed per depth (with its log-log slope, what the claim measures), the
    depths no width solved as triangles at the largest width tried, and each point's depth."""
    solved, unsolved = w[w["solved"]], w[~w["solved"]]
    label = "smallest width solving it"
    if solved["depth"].nunique() >= 2:
        fit = np.polyfit(np.log(solved["n_features"]), np.log(solved["min_n_hidden"]), 1)[0]
        label += f" (log-log slope {fit:.2f})"
    ax.plot(solved["n_features"], solved["min_n_hidden"], "o-", color=PALETTE[0], label=label, zorder=3)
    if len(unsolved):
        ax.scatter(
            unsolved["n_features"],
            unsolved["max_n_hidden"],
            marker="^",
            facecolors="none",
            edgecolors=PALETTE[3],
            label="not solved up to this width",
            zorder=3,
        )
    for r in w.itertuples():
        ax.annotate(
            f"d={r.depth}",
            (r.n_features, r.min_n_hidden if r.solved else r.max_n_hidden),
            textcoords="offset points",
            xytext=(4, -9),
            fontsize=6,
        )


def _draw_reference_lines(ax, w: pd.DataFrame) -> np.ndarray:
    """The identity n_hidden = n_features and the slope-1/2 line through the shallowest solved depth (the
    claim's threshold), sampled densely so that they stay straight on log axes; returns their x values."""
    solved = w[w["solved"]]
    lo_x, hi_x = float(w["n_features"].min()), float(w["n_features"].max())
    xs = np.geomspace(lo_x / 1.3, hi_x * 1.3, 200)
    ax.plot(xs, xs, color="0.5", ls="--", lw=0.8, label="n_hidden = n_features")
    if len(solved):
        x0, y0 = float(solved["n_features"].iloc[0]), float(solved["min_n_hidden"].iloc[0])
        ax.plot(
            xs,
            y0 * (xs / x0) ** 0.5,
            color="0.5",
            ls=":",
            lw=0.8,
            label=f"slope 1/2 through depth {int(solved['depth'].iloc[0])} (square-root growth)",
        )
    return xs


def _width_axes(ax, w: pd.DataFrame, xs: np.ndarray) -> None:
    """Log-2 axes with integer ticks (widths and feature counts are integers), spanning the reference lines."""
    top = int(max(w["max_n_hidden"].max(), 2))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(1.6, top * 1.35)
    ax.set_xticks(sorted(w["n_features"].unique()), [str(int(v)) for v in sorted(w["n_features"].unique())])
    ax.set_yticks(range(2, top + 1), [str(v) for v in range(2, top + 1)])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("number of features 2^(depth+1) - 2 (log scale)")
    ax.set_ylabel("smallest n_hidden (dimensions, log scale)")


def tms_sparsity(tables: Mapping[str, pd.DataFrame], analysis: Mapping[str, Any]):
    """(d) The superposition paper's signature figure: per sparsity, W^T W, bias, and ||W_i|| coloured by
    interference, for the first seed."""
    feats, gram = tables["tms_features"], tables["tms_gram"]
    seed = int(feats["seed"].min())
    feats, gram = feats[feats["seed"] == seed], gram[gram["seed"] == seed]
    sparsities = sorted(feats["sparsity"].unique())
    n = len(sparsities)
    fig, axes = plt.subplots(
        3,
        n,
        figsize=(1.4 * n + 0.8, 5.2),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": [1.0, 0.5, 1.2]},
    )
    vmax = float(np.abs(gram["value"]).max()) or 1.0
    cmap = plt.get_cmap("viridis")
    for k, s in enumerate(sparsities):
        g = gram[gram["sparsity"] == s].pivot_table(index="i", columns="j", values="value").to_numpy()
        f = feats[feats["sparsity"] == s].sort_values("feature")
        im = axes[0, k].imshow(g, cmap="RdBu", norm=TwoSlopeNorm(0.0, -vmax, vmax))
        axes[0, k].set_title(f"sparsity {s:g}", fontsize=7)
        axes[0, k].set_xticks([])
        axes[0, k].set_yticks([])
        axes[1, k].bar(f["feature"], f["bias"], color=PALETTE[7], width=0.8)
        axes[1, k].axhline(0, color="0.4", lw=0.5)
        axes[1, k].set_xticks([])
        colors = cmap(np.clip(f["interference"].to_numpy(), 0, 1))
        axes[2, k].barh(f["feature"], f["norm"], color=colors, height=0.8)
        axes[2, k].invert_yaxis()
        axes[2, k].set_xlim(0, max(1.2, float(feats["norm"].max()) * 1.05))
        axes[2, k].set_xlabel("||W_i||", fontsize=7)
        if k:
            axes[1, k].sharey(axes[1, 0])
            axes[1, k].tick_params(labelleft=False)
            axes[2, k].tick_params(labelleft=False)
    axes[0, 0].set_ylabel("W^T W\n(feature x feature)", fontsize=7)
    axes[1, 0].set_ylabel("bias b_i", fontsize=7)
    axes[2, 0].set_ylabel("feature i (importance 0.7^i)", fontsize=7)
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="W^T W")
    fig.colorbar(
        plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1)),
        ax=axes[2, :].tolist(),
        shrink=0.8,
        label="interference (clipped at 1)",
    )
    fig.suptitle(
        f"TMS sparsity sweep (seed {seed}): bars = ||W_i|| coloured by interference sum_(j!=i) (W^_i . W_j)^2",
        fontsize=9,
    )
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
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.8", lw=0.5)
    ax.axvline(0, color="0.8", lw=0.5)
    ax.set_xlabel("hidden dimension 1 (weight)")
    ax.set_ylabel("hidden dimension 2 (weight)")
    ax.set_title(f"Feature directions, depth {int(d['depth'].iloc[0])}, n_hidden 2, seed {int(d['seed'].iloc[0])}")
    ax.legend(fontsize=6, loc="best")
    fig.set_size_inches(PANEL_WIDTH * 1.3, PANEL_WIDTH * 1.3)
    return fig


#: The study's figures (featurelab.figure_registry): name -> the tables it reads and the function drawing it.
FIGURES: dict[str, Figure] = {
    "loss_heatmap": Figure(("summary",), loss_heatmap),
    "loss_vs_width": Figure(("summary", "finals"), loss_vs_width),
    "width_needed": Figure(("width_needed", "finals"), width_needed),
    "tms_sparsity": Figure(("tms_features", "tms_gram"), tms_sparsity),
    "feature_directions_2d": Figure(("directions",), feature_directions_2d),
}


def draw(figure: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Figure ``figure`` from the rule's tables (its named inputs) and params (scripts/figure.py)."""
    return FIGURES[figure].draw(tables, params["analysis"])
