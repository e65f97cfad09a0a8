"""Figures of the superposition study, drawn from the aggregated tables only
(``results/superposition/{summary,features,wdec_wenc_summary}.parquet``)."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from featurelab.plotting.style import PALETTE, band, panels


def _per_feature(features: pd.DataFrame, seed: int, epoch: int) -> pd.DataFrame:
    """One seed and epoch as a wide table: one row per feature, one column per metric."""
    sel = features[(features["seed"] == seed) & (features["epoch"] == epoch) & (features["feature"] >= 0)]
    return sel.pivot(index="feature", columns="metric", values="value").sort_index()


def feature_arrows(tables: Mapping[str, pd.DataFrame]):
    """(a) Each feature's centred 2-D direction over autoencoder training for the first seed: top row
    scaled by (min-max) importance, bottom row unit length times importance (the notebook's two views)."""
    features = tables["features"]
    seed = int(features["seed"].min())
    epochs = sorted(features["epoch"].unique())
    import matplotlib.pyplot as plt

    from featurelab.plotting.style import PANEL_HEIGHT

    fig, axes = plt.subplots(2, len(epochs), figsize=(1.9 * len(epochs) + 0.6, 2 * PANEL_HEIGHT * 0.8),
                             squeeze=False, layout="constrained")
    cmap = plt.get_cmap("viridis")
    for col, epoch in enumerate(epochs):
        f = _per_feature(features, seed, epoch)
        d = f[["direction_centered_x", "direction_centered_y"]].to_numpy()
        imp = f["importance_norm"].to_numpy()
        length = np.linalg.norm(d, axis=1)
        unit = np.divide(d, length[:, None], out=np.zeros_like(d), where=length[:, None] > 0)
        for row, vecs in enumerate((d * imp[:, None], unit * imp[:, None])):
            ax = axes[row][col]
            order = np.argsort(imp)  # draw the most important last (on top)
            for i in order:
                ax.plot([0, vecs[i, 0]], [0, vecs[i, 1]], color=cmap(imp[i]), lw=0.9)
                ax.scatter(vecs[i, 0], vecs[i, 1], color=cmap(imp[i]), s=6, zorder=3)
            lim = max(1e-6, float(np.abs(vecs).max())) * 1.15
            ax.set_xlim(-lim, lim); ax.set_ylim(-lim, lim); ax.set_aspect("equal")
            ax.axhline(0, color="0.7", lw=0.5, ls="--"); ax.axvline(0, color="0.7", lw=0.5, ls="--")
            ax.tick_params(labelsize=6)
            if row == 0:
                ax.set_title(f"epoch {epoch}")
            if row == 1:
                ax.set_xlabel("code dim 1 (a.u.)", fontsize=7)
    axes[0][0].set_ylabel("direction × importance\ncode dim 2 (a.u.)", fontsize=7)
    axes[1][0].set_ylabel("unit direction × importance\ncode dim 2 (a.u.)", fontsize=7)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=axes[:, -1].tolist(), label="importance (min-max)", shrink=0.8)
    fig.suptitle(f"49 hidden features in the 2-D code over autoencoder training (seed {seed}; centred "
                 "direction = code of unit i alone minus code of 0, mean over images)", fontsize=8)
    return fig


def feature_geometry(tables: Mapping[str, pd.DataFrame]):
    """(b) ||W_i||, decoder bias, interference and dimensionality against importance rank (all in the
    same importance order), mean and 95% CI over seeds at the last recorded epoch."""
    s = tables["summary"]
    s = s[s["kind"] == "by_rank"]
    s = s[(s["epoch"] == s["epoch"].max()) & (s["importance_rank"] >= 0)]
    specs = [("importance_share", "importance (share of total)"), ("w_norm", "$\\|W_i\\|$ (encoder column)"),
             ("b_dec", "decoder bias $b_i$"),
             ("interference", "interference $\\sum_{j\\neq i}(\\hat W_i\\cdot W_j)^2$"),
             ("interference_unnormalized", "notebook's $\\sum_{j\\neq i}(W_i\\cdot W_j)^2$"),
             ("dimensionality", "dimensionality $D_i$")]
    fig, axes = panels(len(specs), ncols=3, sharey=False)
    for k, (ax, (metric, label)) in enumerate(zip(axes, specs)):
        c = s[s["metric"] == metric].sort_values("importance_rank")
        n = int(c["n"].max()) if len(c) else 0
        band(ax, c["importance_rank"], c["mean"], c["ci_low"], c["ci_high"], PALETTE[k % len(PALETTE)],
             f"mean, 95% CI (n={n} seeds)")
        ax.set_xlabel("importance rank (0 = most important)")
        ax.set_ylabel(label)
        ax.legend(loc="best", fontsize=6)
    fig.suptitle(f"Autoencoder geometry by importance rank, epoch {int(s['epoch'].max()) if len(s) else '?'}",
                 fontsize=9)
    return fig


def wdec_wenc(tables: Mapping[str, pd.DataFrame]):
    """(c) W_dec W_enc with rows and columns sorted by importance: full matrix, and only its top 1 %."""
    w = tables["wtw_summary"]
    w = w[w["epoch"] == w["epoch"].max()]
    n = int(w["row_rank"].max()) + 1
    m = np.zeros((n, n))
    m[w["row_rank"].to_numpy(), w["col_rank"].to_numpy()] = w["mean"].to_numpy()
    top = np.where(m >= np.percentile(m, 99), m, 0.0)
    fig, axes = panels(2, ncols=2, sharey=True)
    for ax, mat, title in ((axes[0], m, "full"), (axes[1], top, "top 1 % of entries (others 0)")):
        lim = float(np.abs(mat).max()) or 1.0
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"$W_{{dec}}W_{{enc}}$, {title}")
        ax.set_xlabel("input feature (importance rank)")
        fig.colorbar(im, ax=ax, shrink=0.8, label="weight (a.u.)")
    axes[0].set_ylabel("output feature (importance rank)")
    fig.suptitle(f"$W_{{dec}}W_{{enc}}$ sorted by importance, mean over {int(w['n'].max())} seeds "
                 f"(epoch {int(w['epoch'].max())})", fontsize=9)
    return fig


def training_curves(tables: Mapping[str, pd.DataFrame]):
    """(d) Classifier test accuracy and autoencoder reconstruction loss over epochs."""
    s = tables["summary"]
    s = s[s["kind"] == "training"]
    fig, axes = panels(2, ncols=2, sharey=False)
    specs = [(axes[0], "classifier", "accuracy", "classifier accuracy (fraction correct)"),
             (axes[1], "autoencoder", "loss", "reconstruction MSE (per unit)")]
    for ax, phase, metric, label in specs:
        for k, split in enumerate(("train", "test")):
            c = s[(s["phase"] == phase) & (s["metric"] == metric) & (s["split"] == split)].sort_values("epoch")
            band(ax, c["epoch"], c["mean"], c["ci_low"], c["ci_high"], PALETTE[k],
                 f"{split} (n={int(c['n'].max())} seeds)")
        ax.set_xlabel(f"{phase} epoch")
        ax.set_ylabel(label)
        ax.set_title("phase 1: classifier" if phase == "classifier" else "phase 2: autoencoder 49→2→49")
        ax.legend(loc="best")
    fig.suptitle("Training curves (mean and 95% CI over seeds)", fontsize=9)
    return fig


FIGURES: dict[str, Callable[[Mapping[str, pd.DataFrame]], object]] = {
    "feature_arrows": feature_arrows,
    "feature_geometry": feature_geometry,
    "wdec_wenc": wdec_wenc,
    "training_curves": training_curves,
}
