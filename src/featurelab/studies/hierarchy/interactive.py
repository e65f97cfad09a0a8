"""Interactive version of hierarchy's loss heatmap (Vega-Lite through altair, for the HTML report):
hovering a cell shows its tree depth, number of features, hidden width, the loss statistic the claims use
and every seed's own loss.

Drawn from the same tables as the static figure (figures.loss_heatmap): ``summary.parquet`` for the cell
value (``hierarchy.analysis.statistic`` of ``analysis.metric`` over seeds) and ``finals.parquet`` for the
seeds. The colour is the loss on a log scale (viridis, colour-blind safe), clipped at ``LOSS_FLOOR`` as
there; the hover shows the unclipped values with four significant digits (Python's ``.4g``,
:func:`loss_text`), the cells the static figure's one-digit labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from featurelab.interactive import interactive_job as write_pages
from featurelab.interactive import style

#: Smallest loss on the colour scale (the static figure's floor: exact zeros are drawn at it).
LOSS_FLOOR = 1e-12
STAT_WORDS = {"min": "minimum over seeds", "median": "median over seeds", "mean": "mean over seeds"}
CELL = 70  # pixels per cell side (at most; the figure stays under ~900 px wide)


def loss_text(value: float) -> str:
    """A loss as the hover shows it (and the test reads it back): four significant digits."""
    return f"{value:.4g}"


def cell_label(value: float) -> str:
    """The static figure's cell label: one digit, "0" below the floor."""
    return "0" if value <= LOSS_FLOOR else f"{value:.0e}"


def heatmap_cells(summary: pd.DataFrame, finals: pd.DataFrame, metric: str, stat: str) -> pd.DataFrame:
    """One row per trained (depth, n_hidden): the statistic, its clipped value for the colour, the labels
    and every seed's loss as text. Widths above a depth's n_features were not trained: no row, a blank."""
    data = summary[summary["metric"] == metric].sort_values(["depth", "n_hidden"])
    seeds = finals[finals["metric"] == metric].sort_values("seed")
    per_seed = {
        (int(d), int(w)): "; ".join(f"seed {int(s)}: {loss_text(v)}" for s, v in zip(g["seed"], g["value"]))
        for (d, w), g in seeds.groupby(["depth", "n_hidden"])
    }
    values = data[stat].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "depth": [f"{int(d)} ({int(n)})" for d, n in zip(data["depth"], data["n_features"])],
            "n_hidden": data["n_hidden"].astype(int).to_numpy(),
            "loss": np.clip(values, LOSS_FLOOR, None),
            "loss_text": [loss_text(v) for v in values],
            "cell": [cell_label(v) for v in values],
            "seeds": [per_seed.get((int(d), int(w)), "") for d, w in zip(data["depth"], data["n_hidden"])],
        }
    )


def loss_heatmap(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Final loss over tree depth (rows, deepest on top as in the static figure) x hidden width (columns);
    blank where n_hidden > n_features."""
    analysis = params["analysis"]
    metric, stat = analysis["metric"], analysis["statistic"]
    cells = heatmap_cells(tables["summary"], tables["finals"], metric, stat)
    depths = list(dict.fromkeys(cells["depth"]))[::-1]
    widths = sorted(cells["n_hidden"].unique())
    low, high = float(cells["loss"].min()), float(cells["loss"].max())
    base = alt.Chart(alt.Data(values=cells.to_dict(orient="records"))).encode(
        x=alt.X("n_hidden:O", title="hidden width n_hidden (dimensions)", sort=widths, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("depth:O", title="tree depth (number of features)", sort=depths),
    )
    color = alt.Color(
        "loss:Q",
        scale=alt.Scale(type="log", scheme="viridis", domain=[low, high]),
        legend=alt.Legend(title=[metric, f"({STAT_WORDS[stat]}, MSE)"], format=".0e", gradientLength=240),
    )
    tooltip = [  # on the cells and on their labels (which lie on top)
        alt.Tooltip("depth:O", title="tree depth (features)"),
        alt.Tooltip("n_hidden:O", title="hidden width n_hidden"),
        alt.Tooltip("loss_text:N", title=f"{metric}, {STAT_WORDS[stat]}"),
        alt.Tooltip("seeds:N", title="every seed"),
    ]
    rects = base.mark_rect(stroke="white", strokeWidth=1).encode(color=color, tooltip=tooltip)
    middle = float(np.sqrt(low * high))  # white labels on the dark half of the log scale
    text = base.mark_text(fontSize=11).encode(
        text="cell:N",
        tooltip=tooltip,
        color=alt.condition(f"datum.loss < {middle!r}", alt.value("white"), alt.value("black")),
    )
    chart = alt.layer(rects, text).properties(width=CELL * len(widths), height=CELL * len(depths))
    return style(chart, "Loss over tree depth and hidden width (blank: n_hidden > n_features)")


#: Interactive figure name -> drawing function of (tables, params); names match the static figures'.
FIGURES = {"loss_heatmap": loss_heatmap}


def interactive_job(smk: Any) -> None:
    """Rule hierarchy_interactive: every interactive figure its outputs name, from the aggregated tables."""
    write_pages(smk, FIGURES)
