"""Interactive versions of complexity's curve figures (Vega-Lite through altair, for the HTML report).

Every seed's curve of every feature is its own line with its own legend entry (``<feature> · seed <s>``,
beside ``<feature> · mean of <n> seeds``): a legend click picks entries to show (the others fade), so a
reader can look at one seed or one feature alone; hovering a point shows its pair, line, epoch and value
(and the 95 % interval for a mean). The lines of one entry in several panels (the same feature and seed
of every pair) are picked together.

Drawn from the same tables and with the same statistic as the static figures (figures.py): the mean over
seeds with its 95 % t-interval band, up to the first seed's stop (as there), and each seed's own curve.
Colours are the static figures' (one per feature, linear first); ``all`` (the whole layer's total
variance) is dark grey. Long runs are drawn at every k-th epoch (``featurelab.interactive.epoch_stride``: every epoch at the
default config's scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from featurelab.interactive import (
    FADED,
    HOW_TO_PICK,
    PALETTE,
    csv_data,
    csv_text,
    epoch_stride,
    lookup_data,
    style,
    thin_epochs,
)
from featurelab.interactive import interactive_job as write_pages

#: (metric, y-axis title) of the variance-curves rows, as in the static figure (figures.VARIANCE_ROWS).
VARIANCE_ROWS = (
    ("r2_weighted_normalized", "normalised R² (R²ₜ · TVₜ / TV_final)"),
    ("r2_weighted", "raw R²ₜ (variance-weighted, share)"),
    ("total_variance", "total variance TVₜ (activation²)"),
)
GREY = "#333333"
PANEL_WIDTH, PANEL_HEIGHT = 250, 170
SERIES_FIELDS = ("series", "kind")


def feature_colors(summary: pd.DataFrame) -> dict[str, str]:
    """One colour per feature, the same as in the static figures (linear first); ``all`` dark grey."""
    names = sorted((f for f in summary["feature"].unique() if f != "all"), key=lambda f: (f != "linear", f))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)} | {"all": GREY}


def _label(feature: str) -> str:
    return "total variance" if feature == "all" else feature


def curve_data(summary: pd.DataFrame, runs: pd.DataFrame, metrics: Sequence[str]) -> tuple[str, list, list]:
    """The curves of ``metrics`` (test split) as one CSV table (columns c: pair code, m: metric code,
    s: line code, e: epoch, v: value, lo / hi: the mean's 95 % CI), and the names behind the pair and line
    codes. Lines: per feature its mean (over the epochs every seed reached), then each seed."""
    test = summary[(summary["split"] == "test") & (summary["epoch"] >= 0) & summary["metric"].isin(metrics)]
    seeds = runs[(runs["split"] == "test") & runs["metric"].isin(metrics)]
    conditions = list(dict.fromkeys(summary["condition"]))
    colors = feature_colors(summary)
    full = test.groupby(["condition", "feature", "metric"])["n"].transform("max")
    test = test[test["n"] == full]
    n_seeds = int(test["n"].max())
    features = sorted(set(test["feature"]) | set(seeds["feature"]), key=lambda f: (f == "all", f != "linear", f))
    series: list[dict[str, Any]] = []
    code: dict[tuple[str, str], int] = {}
    for feature in features:
        for kind in ["mean", *sorted(seeds["seed"].unique())]:
            name = f"{_label(feature)} · " + (f"mean of {n_seeds} seeds" if kind == "mean" else f"seed {kind}")
            code[(feature, str(kind))] = len(series)
            series.append(
                {
                    "s": len(series),
                    "series": name,
                    "kind": "mean" if kind == "mean" else "seed",
                    "color": colors[feature],
                }
            )
    means = test.assign(
        c=test["condition"].map(conditions.index),
        m=test["metric"].map(list(metrics).index),
        s=[code[(f, "mean")] for f in test["feature"]],
        e=test["epoch"],
        v=test["mean"],
        lo=test["ci_low"],
        hi=test["ci_high"],
    )
    lines = seeds.assign(
        c=seeds["condition"].map(conditions.index),
        m=seeds["metric"].map(list(metrics).index),
        s=[code[(f, str(s))] for f, s in zip(seeds["feature"], seeds["seed"])],
        e=seeds["epoch"],
        v=seeds["value"],
        lo=float("nan"),
        hi=float("nan"),
    )
    n_curves = len(means.groupby(["c", "m", "s"])) + len(lines.groupby(["c", "m", "s"]))
    stride = epoch_stride(int(runs["epoch"].max()) + 1, n_curves)
    rows = pd.concat([thin_epochs(means, stride, ["c", "m", "s"]), thin_epochs(lines, stride, ["c", "m", "s"])])
    rows = rows.sort_values(["m", "c", "s", "e"], kind="stable")
    text = csv_text(rows, ["c", "m", "s", "e", "v", "lo", "hi"], numbers=["v", "lo", "hi"])
    pairs = [{"c": i, "pair": c.replace("-vs-", " vs ")} for i, c in enumerate(conditions)]
    return text, pairs, series


def _panels(
    data: alt.Data,
    pairs: list,
    series: list,
    metric: int,
    y_title: str,
    picked: alt.Parameter,
    y_scale: alt.Scale | None = None,
    chance: float | None = None,
) -> alt.FacetChart:
    """One row of panels (one per pair) of one metric: bands, lines, hover points (and the chance level)."""
    names = [s["series"] for s in series]
    color = alt.Color(
        "series:N",
        scale=alt.Scale(domain=names, range=[s["color"] for s in series]),
        sort=names,
        legend=alt.Legend(title="line (click to pick)", symbolType="stroke", symbolOpacity=1, symbolStrokeWidth=2.5),
    )
    x = alt.X("e:Q", title="training epoch", axis=alt.Axis(tickMinStep=1, format="d"))
    y = alt.Y("v:Q", title=y_title, scale=y_scale or alt.Undefined)
    tip = [
        alt.Tooltip("pair:N", title="pair"),
        alt.Tooltip("series:N", title="line"),
        alt.Tooltip("e:Q", title="epoch"),
        alt.Tooltip("v:Q", title=y_title.split(" (")[0], format=".4f"),
    ]
    base = alt.Chart().transform_filter(f"datum.m == {metric}")
    band = (
        base.transform_filter("isValid(datum.lo) && datum.lo !== ''")
        .mark_area(clip=True)
        .encode(x=x, y=alt.Y("lo:Q", scale=y_scale or alt.Undefined), y2="hi:Q", color=color)
        .encode(opacity=alt.condition(picked, alt.value(0.18), alt.value(FADED / 3)))
        .properties(name=f"row{metric}")  # the view the legend selection is defined in (picker_param)
    )
    lines = (
        base.mark_line(clip=True)
        .encode(x=x, y=y, color=color, detail="series:N")
        .encode(
            strokeWidth=alt.StrokeWidth(
                "kind:N", scale=alt.Scale(domain=["mean", "seed"], range=[2.5, 1]), legend=None
            ),
            opacity=alt.condition(
                picked,
                alt.Opacity("kind:N", scale=alt.Scale(domain=["mean", "seed"], range=[1.0, 0.6]), legend=None),
                alt.value(FADED),
            ),
        )
    )
    ci = [alt.Tooltip("lo:Q", title="95% CI low", format=".4f"), alt.Tooltip("hi:Q", title="95% CI high", format=".4f")]
    points = base.mark_circle(size=40, clip=True).encode(x=x, y=y, opacity=alt.value(0))
    hover = [  # invisible points that carry the tooltips: a mean's with its interval
        points.transform_filter("datum.kind == 'mean'").encode(tooltip=[*tip, *ci]),
        points.transform_filter("datum.kind == 'seed'").encode(tooltip=tip),
    ]
    extra = []
    if chance is not None:
        extra.append(base.mark_rule(strokeDash=[3, 3], color="#999999").encode(y=alt.datum(chance)))
    layers = alt.layer(band, *extra, lines, *hover, data=data).transform_lookup(
        lookup="c", from_=lookup_data(pairs, "c", ["pair"])
    )
    layers = layers.transform_lookup(lookup="s", from_=lookup_data(series, "s", list(SERIES_FIELDS)))
    return layers.properties(width=PANEL_WIDTH, height=PANEL_HEIGHT).facet(
        column=alt.Column("pair:N", title=None, sort=[p["pair"] for p in pairs])
    )


def _picker() -> alt.Parameter:
    """The legend selection: a click adds the entry to (or takes it from) the shown lines."""
    return alt.selection_point(name="picked", fields=["series"], bind="legend", toggle="true")


def _with_picker(chart, picked: alt.Parameter, rows: int):
    """``chart`` with the legend selection defined once at its top, in the views ``row<k>`` (the band
    layer of each row). altair would lift a selection added to every row itself, at the cost of deep
    copies of the whole chart per row (seconds)."""
    chart.params = [
        alt.TopLevelSelectionParameter(
            name=picked.name, select=picked.param.select, bind="legend", views=[f"row{k}" for k in range(rows)]
        )
    ]
    return chart


def variance_curves(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """The paper's Fig. 2 (normalised variance explained by each feature over training, test split) above
    the raw R²ₜ and the total variance TVₜ it is computed from; one column per feature pair."""
    metrics = [metric for metric, _ in VARIANCE_ROWS]
    text, pairs, series = curve_data(tables["summary"], tables["runs"], metrics)
    data, picked = csv_data(text), _picker()
    rows = [
        _panels(data, pairs, series, k, title, picked, alt.Scale(domain=[0, 1]) if metric == "r2_weighted" else None)
        for k, (metric, title) in enumerate(VARIANCE_ROWS)
    ]
    return style(
        _with_picker(alt.vconcat(*rows), picked, len(rows)),
        "Penultimate-layer variance explained by each feature (test split; mean, 95% CI band, every seed)",
        HOW_TO_PICK,
    )


def accuracy_curves(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Test accuracy of each feature over training, one panel per pair (the axis is the 0-1 range of an
    accuracy: a wide band of few seeds is cut at it)."""
    text, pairs, series = curve_data(tables["summary"], tables["runs"], ["accuracy"])
    picked = _picker()
    chart = _panels(
        csv_data(text),
        pairs,
        series,
        0,
        "test accuracy (fraction correct)",
        picked,
        alt.Scale(domain=[0, 1]),
        chance=0.5,
    )
    chart = _with_picker(chart, picked, 1)
    return style(
        chart,
        "Both features are learned (test accuracy; mean, 95% CI band, every seed; dotted: chance 0.5)",
        HOW_TO_PICK,
    )


#: Interactive figure name -> drawing function of (tables, params); names match the static figures'.
FIGURES = {"variance_curves": variance_curves, "accuracy_curves": accuracy_curves}


def interactive_job(smk: Any) -> None:
    """Rule complexity_interactive: every interactive figure its outputs name, from the aggregated tables."""
    write_pages(smk, FIGURES)
