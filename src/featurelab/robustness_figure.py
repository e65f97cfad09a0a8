"""The region figure of a robustness sweep: where each claim holds over the knobs' values.

Each cell is one claim at one grid point, coloured by its verdict (the claims figure's Okabe-Ito colours),
with the estimate and its 90 % interval written in it, so that the region where a claim holds reads as a
block of one colour and the numbers behind it stay readable. One knob: a grid of claims x values, and
beside it the headline claim's estimate and interval against the knob, with its threshold. Two knobs: one
small grid per claim (first knob across, second down), the headline's estimate against the first knob
with a line per value of the second.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from featurelab.claims_figure import VERDICT_COLOURS


def cell_text(row: Any) -> str:
    """The estimate and its interval (or "no estimate"), and a mark where the verdict
    comes from the precondition, not from the numbers ("(precondition)")."""
    if not math.isfinite(row.estimate):
        text = "no estimate"
    elif math.isfinite(row.ci_low) and math.isfinite(row.ci_high):
        text = f"{row.estimate:.2g}\n[{row.ci_low:.2g}, {row.ci_high:.2g}]"
    else:
        text = f"{row.estimate:.2g}"
    return text if row.precondition_met else f"{text}\n(precondition)"


def value_label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cells(ax, rows: pd.DataFrame, x: list, y: list, x_of, y_of) -> None:
    """Fill ``ax`` with one coloured, labelled cell per row at (x_of(row), y_of(row))."""
    for row in rows.itertuples():
        i, j = x.index(x_of(row)), y.index(y_of(row))
        face = VERDICT_COLOURS.get(row.verdict, "white")
        ax.add_patch(plt_rectangle((i - 0.5, j - 0.5), face, row.default_point))
        ax.text(i, j, cell_text(row), ha="center", va="center", fontsize=5.5, color="white")
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.set_ylim(len(y) - 0.5, -0.5)
    ax.set_xticks(range(len(x)), [value_label(v) for v in x])
    ax.set_yticks(range(len(y)), [value_label(v) for v in y])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plt_rectangle(corner: tuple[float, float], face: str, default: bool):
    """A cell; the default point's is outlined in black."""
    from matplotlib.patches import Rectangle

    return Rectangle(corner, 1, 1, facecolor=face, edgecolor="black" if default else "white", lw=1.6 if default else 1)


def _headline(ax, table: pd.DataFrame, knobs: list[str], headline: str) -> None:
    """The headline claim's estimate and 90 % interval against the first knob (a line per second-knob value)."""
    from featurelab.plotting import PALETTE

    rows = table[table["row_key"] == headline]
    xs = list(dict.fromkeys(table[knobs[0]]))
    groups = [(None, rows)] if len(knobs) == 1 else list(rows.groupby(knobs[1], sort=False))
    for k, (value, group) in enumerate(groups):
        at = np.array([xs.index(v) for v in group[knobs[0]]]) + (k - (len(groups) - 1) / 2) * 0.12
        est, low, high = (group[c].to_numpy(dtype=float) for c in ("estimate", "ci_low", "ci_high"))
        colour = PALETTE[k % len(PALETTE)]
        label = None if value is None else f"{knobs[1].split('.')[-1]} = {value_label(value)}"
        ax.errorbar(at, est, yerr=[est - low, high - est], fmt="none", ecolor=colour, lw=1, capsize=2)
        ax.plot(at, est, color=colour, lw=0.8, label=label)
        ax.scatter(at, est, c=[VERDICT_COLOURS.get(v, "white") for v in group["verdict"]], s=22, zorder=3,
                   edgecolors=colour, linewidths=0.8)  # fmt: skip
    first = rows.iloc[0]
    ax.axhline(first["threshold"], color="0.3", lw=0.8, ls=(0, (4, 3)))
    ax.set_xticks(range(len(xs)), [value_label(v) for v in xs])
    ax.set_xlabel(knobs[0])
    ax.set_ylabel("estimate, 90 % interval")
    ax.set_title(
        f"{first['row_label']}\n(claim: {first['side']} {first['threshold']:.3g}, dashed)", loc="left", fontsize=7
    )
    if len(groups) > 1:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def draw_regions(table: pd.DataFrame, knobs: list[str], headline: str, title: str):
    """The region figure of one study's sweep (module docstring)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    claims = table[table["kind"] == "claim"]
    ids = list(dict.fromkeys(claims["row_key"]))
    labels = dict(zip(claims["row_key"], claims["row_label"]))
    xs = list(dict.fromkeys(table[knobs[0]]))
    if len(knobs) == 1:
        fig, (grid, line) = plt.subplots(
            1, 2, figsize=(2.6 + 1.4 * len(xs) + 2.8, 1.4 + 0.45 * len(ids)), layout="constrained",
            gridspec_kw={"width_ratios": [1.4 * len(xs), 2.4]},
        )  # fmt: skip
        _cells(grid, claims, xs, ids, lambda r: r.knob_0, lambda r: r.row_key)
        grid.set_yticks(range(len(ids)), [labels[i] for i in ids])
        grid.set_xlabel(knobs[0])
    else:
        ys = list(dict.fromkeys(table[knobs[1]]))
        ncols = min(3, len(ids) + 1)
        nrows = math.ceil((len(ids) + 1) / ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(ncols * (0.9 * len(xs) + 1.2), nrows * (0.55 * len(ys) + 1.0)),
            layout="constrained", squeeze=False,
        )  # fmt: skip
        flat = list(axes.ravel())
        for ax, claim in zip(flat, ids):
            rows = claims[claims["row_key"] == claim]
            _cells(ax, rows, xs, ys, lambda r: r.knob_0, lambda r: r.knob_1)
            ax.set_title(labels[claim].replace(" [", "\n["), fontsize=6.5, loc="left")
            ax.set_xlabel(knobs[0], fontsize=6)
            ax.set_ylabel(knobs[1], fontsize=6)
        line = flat[len(ids)]
        for ax in flat[len(ids) + 1 :]:
            ax.set_axis_off()
    _headline(line, table, knobs, headline)
    handles = [Patch(facecolor=c, label=v) for v, c in VERDICT_COLOURS.items()]
    handles.append(Patch(facecolor="white", edgecolor="black", label="default config's point"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def with_knob_columns(table: pd.DataFrame, knobs: list[str]) -> pd.DataFrame:
    """The table with its knob columns copied to ``knob_0``, ``knob_1`` (attribute names itertuples keeps)
    and each row's label. A claim judged under several conditions is one row per condition, matched across
    points by its order within the claim (a condition's name may carry the knob's value, e.g. dissociation's
    ``scaled_c20``); the label is the claim and its condition at the first point, "…" marking a condition
    whose name changes with the knob."""
    out = table.copy()
    for k, knob in enumerate(knobs):
        out[f"knob_{k}"] = out[knob]
    order = out.groupby(["point", "claim"], sort=False).cumcount()
    out["row_key"] = out["claim"] + "#" + order.astype(str)
    condition = out["condition"].fillna("").astype(str)
    first = condition.groupby(out["row_key"]).transform("first")
    varies = condition.groupby(out["row_key"]).transform("nunique") > 1
    shown = first.where(~varies, first + " …")
    out["row_label"] = out["claim"].where(shown == "", out["claim"] + " [" + shown + "]")
    return out


def figure_job(smk: Any) -> None:
    """Rule robustness_figure: the study's sweep table -> the region figure (PDF + PNG)."""
    from featurelab.plotting import apply_style, save_figure

    apply_style()
    knobs = list(smk.params.knobs)
    table = with_knob_columns(pd.read_parquet(smk.input.table), knobs)
    claims = table[table["kind"] == "claim"]
    named = claims[(claims["claim"] == smk.params.headline) | (claims["row_label"] == smk.params.headline)]
    if smk.params.headline and not len(named):
        raise ValueError(
            f"config key 'robustness.{smk.wildcards.study}.headline': no claim {smk.params.headline!r} in the "
            f"study's table (its claims: {sorted(set(claims['claim']))})"
        )
    headline = (named if len(named) else claims)["row_key"].iloc[0]
    title = f"{smk.wildcards.study}: every claim at every grid point (verdict; estimate [90 % interval])"
    fig = draw_regions(table, knobs, headline, title)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])
