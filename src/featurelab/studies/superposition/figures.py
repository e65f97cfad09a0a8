"""Figures of the superposition study, drawn from the aggregated tables only
(``results/superposition/{summary,features,wdec_wenc}.parquet``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from featurelab.figure_registry import Figure
from featurelab.plotting import PALETTE, band, panels


def _per_feature(features: pd.DataFrame, seed: int, epoch: int) -> pd.DataFrame:
    """One seed and epoch as a wide table: one row per feature, one column per metric."""
    sel = features[(features["seed"] == seed) & (features["epoch"] == epoch) & (features["feature"] >= 0)]
    return sel.pivot(index="feature", columns="metric", values="value").sort_index()


#: At most this many recorded epochs get a column of the arrows figure (first and last always included).
MAX_ARROW_EPOCHS = 7


def arrow_epochs(epochs: list[int], most: int = MAX_ARROW_EPOCHS) -> list[int]:
    """The recorded epochs drawn as columns: all of them, or ``most`` spread evenly (first and last kept),
    so a run that records every epoch (config/full.yaml) still gives a readable page."""
    if len(epochs) <= most:
        return list(epochs)
    return [epochs[i] for i in sorted({int(round(k)) for k in np.linspace(0, len(epochs) - 1, most)})]


def _arrows(ax, vecs: np.ndarray, imp: np.ndarray, cmap) -> None:
    """Origin-to-tip segments with a dot at the tip, coloured by importance, the most important on top
    (one collection per panel: dozens of panels of 49 separate artists are slow to render)."""
    from matplotlib.collections import LineCollection

    order = np.argsort(imp, kind="stable")
    v, colors = vecs[order], cmap(imp[order])
    ax.add_collection(LineCollection(np.stack([np.zeros_like(v), v], axis=1), colors=colors, linewidths=0.7))
    ax.scatter(v[:, 0], v[:, 1], c=colors, s=4, zorder=3, lw=0)
    ax.axhline(0, color="0.75", lw=0.4, ls="--", zorder=0)
    ax.axvline(0, color="0.75", lw=0.4, ls="--", zorder=0)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6, length=2, pad=1)


def feature_arrows(tables: Mapping[str, pd.DataFrame]):
    """(a) Each feature's centred 2-D direction over autoencoder training, one row per seed (small
    multiples). Columns: the recorded epochs in the notebook's "len = fix1" view (unit direction ×
    min-max importance, so every panel shares the axes), then the last epoch in its "len = flex" view
    (the direction's own length × importance, axes per seed)."""
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    features = tables["features"]
    seeds = sorted(int(s) for s in features["seed"].unique())
    epochs = arrow_epochs(sorted(int(e) for e in features["epoch"].unique()))
    last = int(features["epoch"].max())
    ncol, nrow, size = len(epochs), len(seeds), 1.12
    fig = plt.figure(figsize=(size * (ncol + 1) + 1.6, size * nrow + 0.9), layout="constrained")
    grid = GridSpec(nrow, ncol + 3, figure=fig, width_ratios=[1] * ncol + [0.12, 1, 0.07])
    cmap = plt.get_cmap("viridis")
    lim = 1.1
    for r, seed in enumerate(seeds):
        for c, epoch in enumerate([*epochs, last]):
            flex = c == ncol
            ax = fig.add_subplot(grid[r, c + 1 if flex else c])
            f = _per_feature(features, seed, epoch)
            d = f[["direction_centered_x", "direction_centered_y"]].to_numpy()
            imp = f["importance_norm"].to_numpy()
            length = np.linalg.norm(d, axis=1)
            unit = np.divide(d, length[:, None], out=np.zeros_like(d), where=length[:, None] > 0)
            vecs = (d if flex else unit) * imp[:, None]
            _arrows(ax, vecs, imp, cmap)
            if flex:
                m = max(1e-6, float(np.abs(vecs).max())) * 1.15
                ax.set_xlim(-m, m)
                ax.set_ylim(-m, m)
                ax.locator_params(nbins=3)
            else:
                ax.set_xlim(-lim, lim)
                ax.set_ylim(-lim, lim)
                ax.set_xticks([-1, 0, 1])
                ax.set_yticks([-1, 0, 1])
                if c > 0:
                    ax.set_yticklabels([])
                else:
                    ax.set_ylabel(f"seed {seed}\ncode dim 2", fontsize=7)
                if r < nrow - 1:
                    ax.set_xticklabels([])
            if r == 0:
                ax.set_title(f"epoch {epoch}, len = flex" if flex else f"epoch {epoch}", fontsize=7)
            if r == nrow - 1:
                ax.set_xlabel("code dim 1", fontsize=7)
    cax = fig.add_subplot(grid[:, ncol + 2])
    cbar = fig.colorbar(plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1)), cax=cax)
    cbar.set_label("importance (min-max over the 49 features of a seed and epoch)", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    fig.suptitle(
        "49 hidden features in the 2-D code: arrow = centred direction of unit i (code of unit i alone "
        "minus code of 0, mean over images),\nunit length × importance (columns by epoch) and own "
        "length × importance (right); code units are tanh outputs (dimensionless)",
        fontsize=8,
    )
    return fig


def feature_geometry(tables: Mapping[str, pd.DataFrame]):
    """(b) ||W_i||, decoder bias, interference and dimensionality against importance rank (all in the
    same importance order), mean and 95% CI over seeds at the last recorded epoch."""
    s = tables["summary"]
    s = s[s["kind"] == "by_rank"]
    s = s[(s["epoch"] == s["epoch"].max()) & (s["importance_rank"] >= 0)]
    specs = [
        ("importance_share", "importance (share of total)"),
        ("w_norm", "$\\|W_i\\|$ (encoder column)"),
        ("b_dec", "decoder bias $b_i$"),
        ("interference", "interference $\\sum_{j\\neq i}(\\hat W_i\\cdot W_j)^2$"),
        ("interference_unnormalized", "notebook's $\\sum_{j\\neq i}(W_i\\cdot W_j)^2$"),
        ("dimensionality", "dimensionality $D_i$"),
    ]
    fig, axes = panels(len(specs), ncols=3, sharey=False)
    n = int(s["n"].max()) if len(s) else 0
    for k, (ax, (metric, label)) in enumerate(zip(axes, specs)):
        c = s[s["metric"] == metric].sort_values("importance_rank")
        band(
            ax,
            c["importance_rank"],
            c["mean"],
            c["ci_low"],
            c["ci_high"],
            PALETTE[k % len(PALETTE)],
            f"mean, 95% CI (n={n} seeds)",
        )
        ax.set_xlabel("importance rank (0 = most important)")
        ax.set_ylabel(label)
    # the legend would say the same in every panel and sit on the bands: it is the title instead
    fig.suptitle(
        f"Autoencoder geometry by importance rank, epoch {int(s['epoch'].max()) if len(s) else '?'}: "
        f"line = mean over n = {n} seeds at each rank, band = 95 % t-interval",
        fontsize=9,
    )
    return fig


def wdec_wenc(tables: Mapping[str, pd.DataFrame]):
    """(c) W_dec W_enc of every seed at the last recorded epoch, rows and columns in that seed's own
    importance order (small multiples, as the notebook drew its one run): the full matrix, and only its
    top 1 % of entries (the notebook's "top1%"). One colour scale for all panels. Seeds are not averaged:
    feature i of one seed is not feature i of another, so a cell-wise mean would be noise."""
    import matplotlib.pyplot as plt

    w = tables["wtw"]
    w = w[w["epoch"] == w["epoch"].max()]
    seeds = sorted(int(s) for s in w["seed"].unique())
    n = int(w["row_rank"].max()) + 1
    mats = {}
    for seed in seeds:
        ws = w[w["seed"] == seed]
        m = np.zeros((n, n))
        m[ws["row_rank"].to_numpy(), ws["col_rank"].to_numpy()] = ws["value"].to_numpy()
        mats[seed] = (m, np.where(m >= np.percentile(m, 99), m, 0.0))
    lim = max(float(np.abs(m).max()) for m, _ in mats.values()) or 1.0
    ncol = min(len(seeds), 5)
    blocks = -(-len(seeds) // ncol)
    fig, axes = plt.subplots(
        2 * blocks, ncol, figsize=(1.75 * ncol + 1.0, 1.75 * 2 * blocks + 0.6), squeeze=False, layout="constrained"
    )
    ticks = [0, n // 2, n - 1]
    for k, seed in enumerate(seeds):
        b, c = divmod(k, ncol)
        for row, (mat, what) in enumerate(zip(mats[seed], ("full", "top 1 %"))):
            ax = axes[2 * b + row][c]
            im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_xticks(ticks)
            ax.set_yticks(ticks)
            ax.tick_params(labelsize=6, length=2, pad=1)
            ax.set_title(f"seed {seed}, {what}", fontsize=7)
            if c == 0:
                ax.set_ylabel("output feature\n(importance rank)", fontsize=7)
            else:
                ax.set_yticklabels([])
            if row == 1:
                ax.set_xlabel("input feature (importance rank)", fontsize=7)
            else:
                ax.set_xticklabels([])
    for k in range(len(seeds), blocks * ncol):
        b, c = divmod(k, ncol)
        axes[2 * b][c].set_visible(False)
        axes[2 * b + 1][c].set_visible(False)
    cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6)
    cbar.set_label("$(W_{dec}W_{enc})_{ij}$ (dimensionless)", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    title = (
        f"$W_{{dec}}W_{{enc}}$ per seed, rows and columns in that seed's importance order "
        f"(0 = most important), epoch {int(w['epoch'].max())}; top 1 %: other entries set to 0"
    )
    fig.suptitle(title, fontsize=8)
    return fig


def training_curves(tables: Mapping[str, pd.DataFrame]):
    """(d) Classifier test accuracy and autoencoder reconstruction loss over epochs."""
    s = tables["summary"]
    s = s[s["kind"] == "training"]
    fig, axes = panels(2, ncols=2, sharey=False)
    specs = [
        (axes[0], "classifier", "accuracy", "classifier accuracy (fraction correct)"),
        (axes[1], "autoencoder", "loss", "reconstruction MSE (per unit)"),
    ]
    for ax, phase, metric, label in specs:
        for k, split in enumerate(("train", "test")):
            c = s[(s["phase"] == phase) & (s["metric"] == metric) & (s["split"] == split)].sort_values("epoch")
            band(
                ax,
                c["epoch"],
                c["mean"],
                c["ci_low"],
                c["ci_high"],
                PALETTE[k],
                f"{split} (n={int(c['n'].max())} seeds)",
            )
        ax.set_xlabel(f"{phase} epoch")
        ax.set_ylabel(label)
        ax.set_title("phase 1: classifier" if phase == "classifier" else "phase 2: autoencoder 49→2→49")
        ax.legend(loc="best")
    fig.suptitle("Training curves (mean and 95% CI over seeds)", fontsize=9)
    return fig


#: The study's figures (featurelab.figure_registry): name -> the tables it reads and the function drawing it.
FIGURES: dict[str, Figure] = {
    "feature_arrows": Figure(("summary", "features", "wtw"), feature_arrows),
    "feature_geometry": Figure(("summary", "features", "wtw"), feature_geometry),
    "wdec_wenc": Figure(("summary", "features", "wtw"), wdec_wenc),
    "training_curves": Figure(("summary", "features", "wtw"), training_curves),
}


def draw(figure: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Figure ``figure`` from the rule's tables (its named inputs) and params (scripts/figure.py)."""
    return FIGURES[figure].draw(tables)
