"""Figures of the dissociation study, drawn from ``results/dissociation/summary.parquet`` only.

One colour per model type (the same in every figure), log axes as the notebook, mean with a band over
seeds: +-1 sd (the notebook's band) or the 95% t-interval (``band: ci95``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd

from featurelab.figure_registry import Figure
from featurelab.plotting import PALETTE, band, panels
from featurelab.studies.dissociation.analysis import probe_label
from featurelab.studies.dissociation.train import MODELS

COLORS = {model: PALETTE[i % len(PALETTE)] for i, model in enumerate(MODELS)}
BAND_LABEL = {"sd": "mean ± sd over seeds", "ci95": "mean and 95% CI over seeds"}


def _pretty(condition: str) -> str:
    """``scaled_c20`` -> ``c = 20``, ``duplicated_m1.2`` -> ``m = 1.2``, ``nuisance_n128`` -> ``128 units``,
    ``null_space_s0.1`` -> ``σ = 0.1``."""
    suffix = condition.rsplit("_", 1)[-1]
    key, value = suffix[0], suffix[1:]
    return {"c": f"c = {value}", "m": f"m = {value}", "n": f"{value} units", "s": f"σ = {value}"}.get(key, suffix)


def _panel(
    summary: pd.DataFrame,
    evaluation: str,
    metric: str,
    band_kind: str,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool,
):
    data = summary[(summary["evaluation"] == evaluation) & (summary["metric"] == metric)]
    fig, (ax,) = panels(1)
    n_seeds = int(data["n"].max()) if len(data) else 0
    for model in MODELS:
        for condition, curve in data[data["model"] == model].groupby("condition", sort=True):
            curve = curve.sort_values("x")
            if band_kind == "sd":
                low, high = curve["mean"] - curve["sd"], curve["mean"] + curve["sd"]
            else:
                low, high = curve["ci_low"], curve["ci_high"]
            if logy:  # a log axis cannot show 0: clip the band's bottom at the axis floor
                floor = 1e-3
                low = np.maximum(low, floor)
            label = model if condition == model else f"{model} ({_pretty(condition)})"
            # dashed lines so that exactly coinciding curves remain visible on top of each other
            ls = {"trained": "-", "scaled": "--", "duplicated": "-.", "nuisance": ":"}.get(model, "-")
            band(ax, curve["x"], curve["mean"], low, high, COLORS[model], label, ls=ls)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n({BAND_LABEL[band_kind]}, n={n_seeds})")
    ax.legend(loc="best", fontsize=6)
    return fig


def input_noise(summary: pd.DataFrame, band_kind: str = "sd"):
    """(a) Test error under Gaussian input noise: function-preserving manipulations are invisible to it,
    except the null-space perturbation, which only preserves the function on the test images."""
    return _panel(
        summary,
        "input_noise",
        "test_error",
        band_kind,
        "input noise σ (pixel units, log)",
        "test error (fraction, log)",
        "Input-noise robustness",
        logy=True,
    )


def parameter_noise(summary: pd.DataFrame, band_kind: str = "sd"):
    """(b) Test error under Gaussian noise on every weight: scaled and nuisance networks are less robust."""
    return _panel(
        summary,
        "parameter_noise",
        "test_error",
        band_kind,
        "parameter noise σ (weight units, log)",
        "test error (fraction, log)",
        "Parameter-noise robustness",
        logy=True,
    )


def transfer(summary: pd.DataFrame, band_kind: str = "sd", probe: Mapping[str, Any] | None = None):
    """(c) Cross-validated error of a rotation probe on the second hidden layer against sample budget;
    the title names the probe (``probe``: the transfer table's provenance record), whose step size decides
    whether a scaled network's larger activations can show. Chance (0.75) is a dotted line; the legend
    sits below the axes, off the curves."""
    fig = _panel(
        summary,
        "transfer",
        "transfer_error",
        band_kind,
        "sample budget (images, log)",
        "rotation transfer error (fraction)",
        f"Transfer to rotation prediction\n{probe_label(probe)}",
        logy=False,
    )
    ax = fig.axes[0]
    budgets = sorted(summary.loc[summary["evaluation"] == "transfer", "x"].unique())
    ticks = [b for b in budgets if f"{b:g}"[0] in "1235" and f"{b:g}"[1:].strip("0") in ("", ".")]
    if ticks:  # plain labels at the round budgets: decades alone say little over one decade of budgets
        ax.set_xticks(ticks, [f"{b:,.0f}" for b in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.axhline(0.75, color="0.4", lw=0.8, ls=":", zorder=0, label="chance (0.75)")
    ax.set_ylim(0.0, 1.0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=6)
    fig.set_figheight(fig.get_figheight() + 0.5)
    return fig


#: The study's figures (featurelab.figure_registry): name -> the tables it reads and the function drawing it.
FIGURES: dict[str, Figure] = {
    "input_noise": Figure(("summary",), input_noise),
    "parameter_noise": Figure(("summary",), parameter_noise),
    "transfer": Figure(("summary",), transfer),
}


def draw(figure: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Figure ``figure`` from the rule's tables (its named inputs) and params (scripts/figure.py)."""
    # the transfer panel names the probe that made it (recorded in the summary's provenance)
    extra = (
        {"probe": params["provenance"]["summary"].get("config", {}).get("transfer_probe")}
        if figure == "transfer"
        else {}
    )
    return FIGURES[figure].draw(tables["summary"], band_kind=params["band"], **extra)
