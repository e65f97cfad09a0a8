"""Shared figure style: paper-sized, colour-blind safe, deterministic files.

Figures are saved as vector PDF plus PNG, with creation dates and software tags stripped from the
metadata so that the same data gives byte-identical files (the manifest's sha256 is then meaningful).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from featurelab.io import atomic_path  # noqa: E402

PALETTE = sns.color_palette("colorblind")
PANEL_WIDTH, PANEL_HEIGHT = 3.2, 2.6  # inches: two panels fit a single paper column pair


def apply_style() -> None:
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font_scale=1.0)
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "pdf.fonttype": 42,
            "svg.hashsalt": "featurelab",
            "axes.titlesize": 9,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
        }
    )


def panels(n: int, ncols: int | None = None, sharey: bool = True, **kwargs: Any):
    """A row-major grid of ``n`` panels; unused axes are hidden. Returns (fig, flat list of axes)."""
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(PANEL_WIDTH * ncols, PANEL_HEIGHT * nrows),
        squeeze=False,
        sharey=sharey,
        layout="constrained",
        **kwargs,
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def band(ax, x, mean, low, high, color, label: str, **kwargs: Any) -> None:
    """Mean line with a shaded confidence band."""
    ax.plot(x, mean, color=color, label=label, lw=1.5, **kwargs)
    ax.fill_between(x, low, high, color=color, alpha=0.25, lw=0)


def save_figure(fig, pdf_path: str | os.PathLike, png_path: str | os.PathLike, dpi: int = 200) -> None:
    """Write the figure as PDF and PNG atomically, with reproducible metadata."""
    with atomic_path(pdf_path) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)


def figure_job(smk: Any, draw: Callable[[str, dict[str, Any], dict[str, Any]], Any]) -> None:
    """The job of every figure rule (scripts/figure.py): ``draw(figure, tables, params)`` of the rule's
    study, saved as PDF + PNG. ``tables`` are the rule's named inputs read as DataFrames; ``params`` the
    rule's params (but ``step``), with ``params["provenance"]`` each table's provenance record."""
    from featurelab.io import step_inputs

    apply_style()
    tables, params = step_inputs(smk)
    fig = draw(smk.wildcards.figure, tables, params)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=params["figures"]["dpi"])
