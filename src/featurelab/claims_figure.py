"""The claims figure: a forest plot of a study's claims, the figure a reader looks at first.

One line per row of the claims table: the estimate and its one-sided 95 % bounds, every seed's value,
and the paper's own value, all placed relative to the row's threshold so that claims of different units
share one axis. The axis is the *margin on the claim's side*, in log2 units: right of 0 is where the claim
holds, left where it is refuted. A ratio or loss (``log_t`` interval) is placed at log2(value /
threshold); any other statistic at asinh(r) / ln 2 with r = (value - threshold) / |threshold| (or value -
threshold for a threshold of 0). The two agree near the threshold (both are r / ln 2 to first order) and
both grow like a log2 ratio far from it, so a claim 8x past a small threshold stays on the page. For a
"<=" claim both are mirrored. Margins beyond ``CLIP`` are drawn at the edge with an arrow. Rows are
coloured by verdict; the paper's claims come first and the checks of our code below them, apart.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Verdict colours (Okabe-Ito, colour-blind safe): blue holds, vermillion refuted, grey undecided.
VERDICT_COLOURS = {"PASS": "#0072B2", "FAIL": "#D55E00", "INCONCLUSIVE": "#7F7F7F"}
#: The axis' half-width in margin units (a loss 32x below its threshold is at 5).
CLIP = 5.0
ROW_HEIGHT = 0.34  # inches


def margin(value: float | np.ndarray, threshold: float, side: str, interval: str) -> np.ndarray:
    """Where ``value`` sits relative to ``threshold`` on the figure's shared axis (module docstring)."""
    value = np.asarray(value, dtype=np.float64)
    if interval == "log_t" and threshold > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            shifted = np.log2(np.maximum(value, 1e-300) / threshold)
    else:
        shifted = np.arcsinh((value - threshold) / (abs(threshold) if threshold != 0 else 1.0)) / math.log(2)
    return shifted if side == ">=" else -shifted


def seed_values(text: str) -> np.ndarray:
    """The per-seed values of a row (its ``seed_values`` column, "0=0.23; 1=0.2")."""
    return np.array([float(part.split("=", 1)[1]) for part in text.split("; ") if "=" in part], dtype=np.float64)


def _label(row: Any) -> str:
    condition = f" [{row.condition}]" if row.condition else ""
    return f"{row.claim}{condition}"


def _value_text(row: Any) -> str:
    if not math.isfinite(row.estimate):
        return row.verdict + (": " + row.reason.split(":")[0] if row.reason else "")
    if row.interval == "exact":
        spread = f" (seeds {row.ci_low:.3g} to {row.ci_high:.3g})"
    else:
        spread = f" [{row.ci_low:.3g}, {row.ci_high:.3g}]" if math.isfinite(row.ci_low) else ""
    unmet = " (precondition not met)" if not row.precondition_met else ""
    return f"{row.estimate:.3g}{spread}  {row.side} {row.threshold:.3g}  {row.verdict}{unmet}"


def _draw_row(ax, text_ax, y: float, row: Any) -> None:
    colour = VERDICT_COLOURS[row.verdict]
    place = lambda v: np.clip(margin(v, row.threshold, row.side, row.interval), -CLIP, CLIP)  # noqa: E731
    seeds = seed_values(row.seed_values)
    if seeds.size:
        ax.scatter(place(seeds), np.full(seeds.size, y + 0.18), s=7, color=colour, alpha=0.45, lw=0, zorder=2)
    if math.isfinite(row.ci_low) and math.isfinite(row.ci_high):
        low, high = sorted(place([row.ci_low, row.ci_high]))
        ax.plot([low, high], [y, y], color=colour, lw=2.2, solid_capstyle="butt", zorder=3)
    if math.isfinite(row.estimate):
        raw = margin(row.estimate, row.threshold, row.side, row.interval)
        marker = ">" if raw > CLIP else "<" if raw < -CLIP else "o"
        ax.scatter(place(row.estimate), y, s=30, marker=marker, color=colour, edgecolor="white", lw=0.6, zorder=4)
    if math.isfinite(row.paper_value):
        ax.scatter(place(row.paper_value), y, s=34, marker="D", facecolor="none", edgecolor="black", lw=0.9, zorder=5)
    text_ax.text(0.0, y, _value_text(row), va="center", ha="left", fontsize=6.5, color=colour)


def _ordered(claims: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [(kind, claims[claims["kind"] == kind]) for kind in ("claim", "check") if (claims["kind"] == kind).any()]


def draw_claims(claims: pd.DataFrame, title: str):
    """The forest plot of ``claims`` (a claims table), as a matplotlib figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n_rows = len(claims) + len(_ordered(claims))
    longest_label = max((len(_label(row)) for row in claims.itertuples()), default=10)
    width = 6.0 + 0.065 * longest_label  # inches: the labels take their own room, the plot keeps its width
    fig, (ax, text_ax) = plt.subplots(
        1,
        2,
        figsize=(width, 1.5 + ROW_HEIGHT * max(n_rows, 1)),
        layout="constrained",
        sharey=True,
        gridspec_kw={"width_ratios": [3, 2.3]},
    )
    text_ax.axis("off")
    labels, ticks, y = [], [], 0.0
    for kind, rows in _ordered(claims):
        labels.append("claims of the paper" if kind == "claim" else "checks of our code (true by construction)")
        ticks.append(y)
        y -= 1
        for row in rows.itertuples():
            _draw_row(ax, text_ax, y, row)
            labels.append(_label(row))
            ticks.append(y)
            y -= 1
    ax.axvline(0, color="black", lw=0.8, zorder=1)
    ax.axvspan(0, CLIP, color=VERDICT_COLOURS["PASS"], alpha=0.06, lw=0, zorder=0)
    ax.set_yticks(ticks, labels, fontsize=7)
    for tick, label in zip(ax.get_yticklabels(), labels):
        if label.startswith(("claims of the paper", "checks of our code")):
            tick.set_fontweight("bold")
    ax.set_ylim(y + 0.4, 0.6)
    ax.set_xlim(-CLIP, CLIP)
    ax.set_xlabel(
        "margin on the claim's side of its threshold (0 = threshold; right: claim holds)\n"
        "ratios and losses: log2(value / threshold); others: asinh((value - threshold) / |threshold|) / ln 2",
        fontsize=7.5,
    )
    fig.suptitle(title, fontsize=8.5, x=0.01, ha="left")
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    handles = [Line2D([], [], color=c, lw=2.2, marker="o", markersize=4, label=v) for v, c in VERDICT_COLOURS.items()]
    handles += [
        Line2D([], [], ls="none", marker="o", markersize=3, color="grey", alpha=0.5, label="one seed"),
        Line2D(
            [], [], ls="none", marker="D", markersize=4, markerfacecolor="none", color="black", label="paper's value"
        ),
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=len(handles),
        fontsize=7,
        frameon=False,
        title="estimate with its one-sided 95 % bounds, by verdict",
        title_fontsize=7,
    )
    return fig


def claims_figure_job(smk: Any) -> None:
    """The job of the claims-figure rule (scripts/claims_figure.py): the study's claims table drawn as PDF
    + PNG."""
    from featurelab.claims import counts_sentence
    from featurelab.plotting import apply_style, save_figure

    apply_style()
    claims = pd.read_parquet(smk.input.claims)
    title = f"{smk.wildcards.study}\n{counts_sentence(claims)}"
    save_figure(draw_claims(claims, title), smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])
