"""The geometry study's figures, drawn from the aggregated tables only.

* ``dimensionality`` - the paper's feature-dimensionality plot: dimensions per feature m/||W||_F^2 against
  1/(1-S) (a line per seed, a point per sparsity), every represented feature's D_i as a faint point,
  reference lines at the sticky fractions with the paper's names, and the plateau claims' bands (+-
  ``claims.plateau_tolerance`` around 1 and 1/2); beside it the distribution of D_i per seed with each line's
  window (+- ``claims.tolerance``, shaded), what the pile-up claims compare with the sidebands around it.
* ``training_loss`` - every instance's loss curve as features' worth of variance explained, the statistic of
  the "trained" precondition, with its threshold.

matplotlib and pandas are imported inside the drawing functions (the module stays light to import).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from featurelab.figure_registry import Figure
from featurelab.studies.geometry import fraction_label, parse_fraction

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure


def _jitter(n: int) -> np.ndarray:
    """Deterministic offsets in [-0.5, 0.5) for n points (golden-ratio sequence: even, no random state)."""
    return (np.arange(n) * 0.6180339887498949) % 1.0 - 0.5


def draw(figure: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> Figure:
    """One figure of the study from its tables (names as in ``FIGURES``) and the rule's params."""
    if figure not in FIGURES:
        raise ValueError(f"unknown geometry figure {figure!r} (expected one of {list(FIGURES)})")
    spec = FIGURES[figure]
    return spec.draw(*(tables[name] for name in spec.tables), params)


def _reference_lines(ax, fractions: list[str], label: bool, gap: float = 0.04) -> None:
    """Dashed lines at the fractions; with ``label``, their names right of the axes, pushed apart by at least
    ``gap`` (data units) where fractions are close (2/5 and 3/8), with a thin leader to the line."""
    values = sorted(((float(parse_fraction(t)), t) for t in fractions), reverse=True)
    placed: list[float] = []
    for y, text in values:
        ax.axhline(y, color="0.45", lw=0.6, ls=(0, (4, 3)), zorder=1)
        if label:
            at = min(y, placed[-1] - gap) if placed else y
            placed.append(at)
            ax.annotate(
                fraction_label(text),
                xy=(1.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(1.06, at),
                textcoords=("axes fraction", "data"),
                va="center",
                ha="left",
                fontsize=7,
                color="0.25",
                annotation_clip=False,
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5, "shrinkA": 0, "shrinkB": 0},
            )


def _plateau_bands(ax, tolerance: float) -> None:
    """The bands of the plateau claims (m/||W||_F^2 within +-``tolerance`` of 1 and of 1/2), shaded."""
    for value in (1.0, 0.5):
        ax.axhspan(value * (1 - tolerance), value * (1 + tolerance), color="0.93", lw=0, zorder=0)
        ax.annotate(
            f"plateau band {value:g} ± {tolerance:.0%}",
            xy=(0.99, value * (1 - tolerance)),
            xycoords=("axes fraction", "data"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=6.5,
            color="0.4",
        )


def _dimensionality(features: pd.DataFrame, instances: pd.DataFrame, params: Mapping[str, Any]) -> Figure:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from featurelab.plotting import PALETTE

    analysis, claims = params["analysis"], params["claims"]
    fractions = [str(f) for f in analysis["fractions"]]
    seeds = sorted(instances["seed"].unique())
    inverse = np.sort(instances["inverse_density"].unique())
    # one slot per seed around each sweep point, in log x: the seeds' points sit side by side
    spacing = np.diff(np.log(inverse)).min() if len(inverse) > 1 else 1.0
    slot = 0.8 * spacing / len(seeds)
    fig, (ax, hist) = plt.subplots(
        1, 2, figsize=(7.4, 3.9), sharey=True, layout="constrained", gridspec_kw={"width_ratios": [3.2, 1.0]}
    )
    tol = float(claims["tolerance"])
    bins = np.arange(-tol, 1.0 + 4 * tol, 2 * tol)  # 1/2, 2/5 and 1 at bin centres: their windows are bins
    for k, seed in enumerate(seeds):
        color = PALETTE[k % len(PALETTE)]
        f = features[(features["seed"] == seed) & features["represented"]]
        centre = (k - (len(seeds) - 1) / 2) * slot
        x = f["inverse_density"].to_numpy() * np.exp(centre + 0.9 * slot * _jitter(len(f)))
        ax.scatter(x, f["dimensionality"], s=2.5, color=color, alpha=0.25, lw=0, rasterized=True, zorder=2)
        inst = instances[instances["seed"] == seed].sort_values("inverse_density")
        ax.plot(
            inst["inverse_density"],
            inst["dims_per_feature"],
            color=color,
            lw=1.3,
            marker="o",
            ms=3.5,
            mec="white",
            mew=0.5,
            zorder=3,
            label=f"seed {seed}",
        )
        hist.hist(f["dimensionality"], bins=bins, orientation="horizontal", histtype="step", color=color, lw=1.0)
    _reference_lines(ax, fractions, label=False)
    _reference_lines(hist, fractions, label=True)
    _plateau_bands(ax, float(claims["plateau_tolerance"]))
    for text in fractions:  # the window a pile-up claim counts
        value = float(parse_fraction(text))
        hist.axhspan(value - tol, value + tol, color="0.85", lw=0, zorder=0)
    ax.set_xscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if inverse[0] <= t <= inverse[-1] * 1.001]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0.0, 1.06)
    ax.set_xlabel("1/(1−S): inverse feature density (log scale)")
    ax.set_ylabel("dimensions per feature: $D_i$ and $m/\\|W\\|_F^2$")
    ax.set_title(
        f"(a) n = {int(instances['n_features'].iloc[0])} features, m = {int(instances['n_hidden'].iloc[0])} "
        "hidden dimensions",
        loc="left",
    )
    hist.set_xscale("log")
    hist.set_xlim(left=0.7)
    hist.set_xlabel(f"represented features\nper {2 * tol:g}-wide bin (count)")
    hist.set_title("(b) $D_i$, whole sweep", loc="left")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=len(seeds),
        fontsize=7,
        title="lines: $m/\\|W\\|_F^2$; dots: $D_i$ of the represented features",
        title_fontsize=7,
    )
    return fig


def _training_loss(curves: pd.DataFrame, instances: pd.DataFrame, params: Mapping[str, Any]) -> Figure:
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    claims = params["claims"]
    n = int(instances["n_features"].iloc[0])
    m = int(instances["n_hidden"].iloc[0])
    seeds = sorted(curves["seed"].unique())
    styles = ["-", "--", ":", "-."]
    inverse = curves["inverse_density"]
    norm = LogNorm(vmin=float(inverse.min()), vmax=max(float(inverse.max()), float(inverse.min()) * 1.0001))
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(5.6, 3.8), layout="constrained")
    effective = n * (1.0 - curves["loss"].to_numpy() / curves["loss_baseline"].to_numpy())
    for k, seed in enumerate(seeds):
        c = curves[curves["seed"] == seed]
        for _, g in c.groupby("instance", sort=True):
            g = g.sort_values("step")
            eff = n * (1.0 - g["loss"].to_numpy() / g["loss_baseline"].to_numpy())
            ax.plot(
                g["step"],
                eff,
                color=cmap(norm(float(g["inverse_density"].iloc[0]))),
                lw=0.9,
                ls=styles[k % len(styles)],
                marker=".",
                ms=2.5,
            )
    threshold = float(claims["trained_min_effective_fraction"]) * m
    ax.axhline(threshold, color="0.2", lw=0.8, ls=(0, (4, 3)))
    ax.annotate(
        f"trained: ≥ {threshold:g}",
        xy=(1.0, threshold),
        xycoords=("axes fraction", "data"),
        xytext=(-2, -3),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=7,
    )
    ax.axhline(m, color="0.6", lw=0.6)
    ax.annotate(
        f"m = {m}: no superposition",
        xy=(1.0, m),
        xycoords=("axes fraction", "data"),
        xytext=(-2, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=7,
        color="0.35",
    )
    # an untrained model explains less than nothing (its loss E[x^2] exceeds Var x): keep the axis on the
    # trained range and say where the first points are
    low = -float(m)
    ax.set_ylim(low, 1.08 * max(float(np.nanmax(effective)), m))
    first = curves[curves["step"] == curves["step"].min()]
    start = n * (1.0 - first["loss"].to_numpy() / first["loss_baseline"].to_numpy())
    if (start < low).any():
        ax.annotate(
            f"step {int(first['step'].iloc[0])}: {start.min():.0f} to {start.max():.0f} (below the axis)",
            xy=(0.99, 0.02),
            xycoords="axes fraction",
            fontsize=7,
            color="0.35",
            ha="right",
            va="bottom",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("features' worth of variance explained\nn (1 − loss / input-ignoring loss)")
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(sm, ax=ax, label="1/(1−S)")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if norm.vmin <= t <= norm.vmax * 1.001]
    bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
    bar.ax.yaxis.set_minor_formatter(NullFormatter())
    handles = [Line2D([], [], color="0.3", ls=styles[k % len(styles)], lw=0.9) for k in range(len(seeds))]
    fig.legend(handles, [f"seed {s}" for s in seeds], loc="outside lower center", ncols=len(seeds), fontsize=7)
    return fig


#: The study's figures (featurelab.figure_registry): name -> the tables it reads and the function drawing it.
FIGURES: dict[str, Figure] = {
    "dimensionality": Figure(("features", "instances"), _dimensionality),
    "training_loss": Figure(("curves", "instances"), _training_loss),
}
