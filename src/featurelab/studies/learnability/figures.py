"""Figures of the learnability study, drawn from ``results/learnability/summary.parquet`` only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from featurelab.figure_registry import Figure
from featurelab.plotting import PALETTE, band, panels

H1C_FAMILY = "features"


def _params(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([json.loads(p) for p in summary["params"]], index=summary.index)


def _order(conditions, summary: pd.DataFrame) -> list[str]:
    """Tasks by generator, then numerically by parameter values (scale 0.5 before scale 10)."""
    params = dict(zip(summary["condition"], summary["params"]))

    def key(c: str):
        return (c.split("[")[0], tuple(float(v) for _, v in sorted(json.loads(params[c]).items())))

    return sorted(dict.fromkeys(conditions), key=key)


#: At most this many curves share a panel: one colour each from the colour-blind palette, never recycled.
MAX_CURVES = len(PALETTE)
#: Families in the notebook's order (its cells); any other family follows, alphabetically.
FAMILY_ORDER = ("run_all", "simplicity", "distractors", "features", "scale_shift")
#: Curves 6-10 of a panel are dashed as well as coloured, so that similar hues of the palette stay apart.
SOLID_CURVES = 5


def _style(k: int, n_ordered: int = 0) -> dict[str, Any]:
    """Colour and line style of curve ``k``: the colour-blind palette, or for an ordered sweep of
    ``n_ordered`` values shared by several panels (the scale loop) the colour-blind-safe sequential viridis,
    so the order reads off the hue."""
    if n_ordered:
        return {"color": plt.get_cmap("viridis")(0.9 * k / max(1, n_ordered - 1)), "ls": "-"}
    return {"color": PALETTE[k], "ls": "-" if k < SOLID_CURVES else "--"}


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def curve_panels(family: str, sel: pd.DataFrame) -> tuple[list[dict], bool]:
    """How one family's tasks are split into panels of at most :data:`MAX_CURVES` curves, every task in
    exactly one panel. Returns ``(panels, shared_legend)``; a panel is ``{"title", "curves": [(condition,
    label, colour index)]}``.

    A family of up to ``MAX_CURVES`` tasks is one panel. A bigger grid of one generator (the scale x shift
    grid) gets one panel per value of its parameter with the fewest values (shift), a curve per value of
    the others (scale), and a colour per curve value shared by all its panels (one legend); anything
    still bigger is cut into consecutive panels.
    """
    conditions = _order(sel["condition"], sel)
    if len(conditions) <= MAX_CURVES:
        return [{"title": f"family '{family}'", "curves": [(c, c, k) for k, c in enumerate(conditions)]}], False
    params = dict(zip(sel["condition"], sel["params"]))
    generators = {c.split("[")[0] for c in conditions}
    values = {c: json.loads(params[c]) for c in conditions}
    keys = sorted(values[conditions[0]])
    varying = [k for k in keys if len({values[c][k] for c in conditions}) > 1] if len(generators) == 1 else []
    if len(varying) >= 2:
        split = min(varying, key=lambda k: (len({values[c][k] for c in conditions}), k))
        rest = [k for k in varying if k != split]
        curve_values = sorted({tuple(values[c][k] for k in rest) for c in conditions})
        shared = len(curve_values) <= MAX_CURVES
        out = []
        for v in sorted({values[c][split] for c in conditions}):
            members = [c for c in conditions if values[c][split] == v]
            parts = _chunks(members, MAX_CURVES)
            for j, part in enumerate(parts):
                suffix = f" ({j + 1}/{len(parts)})" if len(parts) > 1 else ""
                curves = []
                for k, c in enumerate(part):
                    cv = tuple(values[c][r] for r in rest)
                    label = ", ".join(f"{r} = {values[c][r]:g}" for r in rest)
                    curves.append((c, label, curve_values.index(cv) if shared else k))
                out.append(
                    {
                        "title": f"family '{family}': {split} = {v:g}{suffix}",
                        "curves": curves,
                        "n_ordered": len(curve_values) if shared else 0,
                        "legend_title": ", ".join(rest),
                    }
                )
        return out, shared
    parts = _chunks(conditions, MAX_CURVES)
    return [
        {"title": f"family '{family}' ({j + 1}/{len(parts)})", "curves": [(c, c, k) for k, c in enumerate(part)]}
        for j, part in enumerate(parts)
    ], False


#: The claims' thresholds: thin black, dotted and dash-dotted (curves are solid or dashed).
THRESHOLD_STYLE = ({"color": "black", "ls": ":", "lw": 0.9}, {"color": "black", "ls": "-.", "lw": 0.8})


def _threshold_lines(ax, claims: Mapping[str, Any] | None) -> None:
    if claims:
        for key, style in zip(("converged_mse", "not_converged_mse"), THRESHOLD_STYLE):
            ax.axhline(float(claims[key]), zorder=1, **style)


def _threshold_labels(claims: Mapping[str, Any] | None) -> list[str]:
    if not claims:
        return []
    return [
        f"'converges': final MSE < {float(claims['converged_mse']):g}",
        f"'does not converge': final MSE >= {float(claims['not_converged_mse']):g}",
    ]


#: Columns of the grid of one-panel families, and of each bigger family's grid of panels.
SINGLE_COLUMNS, GRID_COLUMNS = 2, 3


def learning_curves(summary: pd.DataFrame, claims: Mapping[str, Any] | None = None):
    """(a) Held-out MSE over training, every task of every family: geometric mean over seeds with a 95% CI
    computed on log10 MSE (log axis); the curve's last point is the final held-out MSE the convergence
    claims judge, and the claims' thresholds are drawn. Panels hold at most :data:`MAX_CURVES` curves, so
    no colour repeats within a panel (see :func:`curve_panels`); legends sit beside the axes."""
    data = summary[(summary["metric"] == "log10_eval_mse") & (summary["step"] >= 0)]
    families, single, grids = _family_panels(data)
    rows = [-(-len(single) // SINGLE_COLUMNS)] + [-(-len(p) // GRID_COLUMNS) for _, _, p, _ in grids]
    rows = [r for r in rows if r > 0]
    fig = plt.figure(figsize=(11.0, 2.5 * sum(rows) + 0.9), layout="constrained")
    subfigs = iter(np.atleast_1d(fig.subfigures(len(rows), 1, height_ratios=rows, hspace=0.04)))
    if single:
        _draw_single_panels(next(subfigs), rows[0], single, claims)
    for _family, sel, panels_, shared in grids:
        _draw_grid_panels(next(subfigs), sel, panels_, shared, claims)
    if claims:  # one key for the threshold lines, drawn in every panel
        proxies = [plt.Line2D([], [], **style) for style in THRESHOLD_STYLE]
        fig.legend(proxies, _threshold_labels(claims), loc="outside lower center", ncols=2, fontsize=7)
    n_tasks = data.groupby("family")["condition"].nunique().sum()
    n_seeds = int(data["n"].max()) if len(data) else 0
    fig.suptitle(
        f"Learning curves: held-out MSE per task, geometric mean and 95% CI over {n_seeds} seeds "
        f"(all {n_tasks} tasks of {len(families)} families drawn)",
        fontsize=9,
    )
    return fig


def _family_panels(data: pd.DataFrame) -> tuple[list[str], list[tuple], list[tuple]]:
    """The families in the notebook's order, and each family's ``(family, rows, panels, shared legend)``:
    the families that fit one panel (drawn side by side) apart from those that need several (a grid each)."""
    present = set(data["family"])
    families = [f for f in FAMILY_ORDER if f in present] + sorted(present - set(FAMILY_ORDER))
    single, grids = [], []
    for family in families:
        sel = data[data["family"] == family]
        panels_, shared = curve_panels(family, sel)
        (grids if len(panels_) > 1 else single).append((family, sel, panels_, shared))
    return families, single, grids


def _draw_curves(
    ax, sel: pd.DataFrame, curves: list, title: str, claims: Mapping[str, Any] | None, n_ordered: int = 0
) -> None:
    """One panel: each of ``curves`` ``(condition, label, colour index)`` as its mean and band, back from
    log10 MSE to MSE on a log axis, with the claims' thresholds."""
    for condition, label, k in curves:
        curve = sel[sel["condition"] == condition].sort_values("step")
        style = _style(k, n_ordered)
        band(
            ax,
            curve["step"],
            10 ** curve["mean"],
            10 ** curve["ci_low"],
            10 ** curve["ci_high"],
            style["color"],
            label,
            ls=style["ls"],
        )
    _threshold_lines(ax, claims)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("training step (optimizer steps)")
    ax.set_ylabel("held-out MSE (var y = 1)")


def _draw_single_panels(sub, n_rows: int, single: list[tuple], claims: Mapping[str, Any] | None) -> None:
    """The one-panel families side by side in ``sub``, each with its own legend beside it."""
    axes = list(sub.subplots(n_rows, SINGLE_COLUMNS, squeeze=False).flat)
    for ax, (_family, sel, panels_, _) in zip(axes, single):
        _draw_curves(ax, sel, panels_[0]["curves"], panels_[0]["title"], claims)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, borderaxespad=0)
    for ax in axes[len(single) :]:
        ax.set_visible(False)


def _draw_grid_panels(
    sub, sel: pd.DataFrame, panels_: list[dict], shared: bool, claims: Mapping[str, Any] | None
) -> None:
    """One family's panels as a grid in ``sub`` sharing the y axis; one legend for the grid when its panels
    share their curve colours, else one per panel."""
    axes = list(sub.subplots(-(-len(panels_) // GRID_COLUMNS), GRID_COLUMNS, squeeze=False, sharey=True).flat)
    for ax, panel in zip(axes, panels_):
        _draw_curves(ax, sel, panel["curves"], panel["title"], claims, panel.get("n_ordered", 0))
        if not shared:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, borderaxespad=0)
    for ax in axes[len(panels_) :]:
        ax.set_visible(False)
    for ax in axes[1 : len(panels_)]:
        if ax.get_subplotspec().colspan.start != 0:
            ax.set_ylabel("")
    if shared:
        _shared_legend(sub, axes[: len(panels_)], panels_[0]["legend_title"])


def _shared_legend(sub, axes: list, title: str) -> None:
    """One legend beside a grid for the curves of all its panels, each label once, ordered by the number
    it ends with (the curve parameter's value)."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    order = sorted(range(len(labels)), key=lambda i: float(labels[i].split("=")[-1]))
    sub.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="outside right upper",
        fontsize=6,
        title=title,
        title_fontsize=7,
    )


def _final_rows_of_largest_family(summary: pd.DataFrame, generator: str) -> tuple[str | None, pd.DataFrame]:
    """The final-step rows of ``generator``'s tasks in the family that sweeps most of them (a sweep figure
    shows one family), with the task parameters as columns."""
    sel = summary[(summary["generator"] == generator) & (summary["step"] == -1)]
    fam = sel.groupby("family")["condition"].nunique().idxmax() if len(sel) else None
    sel = sel[sel["family"] == fam]
    return fam, pd.concat([sel, _params(sel)], axis=1)


def scale_shift_heatmap(summary: pd.DataFrame):
    """(b) Final held-out MSE and steps-to-threshold over the scale x shift grid (means over seeds)."""
    fam, sel = _final_rows_of_largest_family(summary, "scale_shift")
    fig, axes = panels(2, ncols=2, sharey=False)
    for ax, (metric, label, log) in zip(
        axes,
        [
            ("log10_final_eval_mse", "final held-out MSE", True),
            ("steps_to_threshold", "steps to running loss < threshold", False),
        ],
    ):
        grid = sel[sel["metric"] == metric].pivot_table(index="shift", columns="scale", values="mean")
        values = grid.to_numpy()
        im = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
        mid = np.nanmin(values) + 0.5 * (np.nanmax(values) - np.nanmin(values))
        ax.set_xticks(range(grid.shape[1]), [f"{s:g}" for s in grid.columns], rotation=45)
        ax.set_yticks(range(grid.shape[0]), [f"{s:g}" for s in grid.index])
        ax.set_xlabel("input scale (x = (y + shift) * scale)")
        ax.set_ylabel("input shift")
        for (r, col), v in np.ndenumerate(values):
            text = f"{10**v:.0e}".replace("e-0", "e-") if log else f"{v / 1000:.1f}k"
            ax.text(col, r, text, ha="center", va="center", fontsize=4.5, color="white" if v < mid else "black")
        cbar = fig.colorbar(im, ax=ax)
        cbar.set_label("log10 MSE" if log else "steps")
        ax.set_title(label)
    fig.suptitle(f"Feature size (H1D), family '{fam}': geometric mean MSE / mean steps over seeds", fontsize=9)
    return fig


def distractor_steps(summary: pd.DataFrame):
    """(c) Steps-to-threshold and final MSE against the number of inputs (1 signal + k - 1 distractors)."""
    fam, sel = _final_rows_of_largest_family(summary, "distractors")
    fig, axes = panels(2, ncols=2, sharey=False)
    for ax, (metric, label) in zip(
        axes,
        [
            ("steps_to_threshold", "steps to running loss < threshold"),
            ("log10_final_eval_mse", "final held-out MSE (var y = 1)"),
        ],
    ):
        m = sel[sel["metric"] == metric].sort_values("k")
        mean, low, high = m["mean"], m["ci_low"], m["ci_high"]
        what = "mean"
        if metric.startswith("log10_"):
            mean, low, high, what = 10**mean, 10**low, 10**high, "geometric mean"
            ax.set_yscale("log")
        err = np.vstack([mean - low, high - mean])
        ax.errorbar(
            m["k"],
            mean,
            yerr=err,
            marker="o",
            color=PALETTE[0],
            capsize=2,
            label=f"{what}, 95% CI (n={int(m['n'].max()) if len(m) else 0} seeds)",
        )
        ax.set_xscale("log")
        ax.set_xlabel("inputs k (y + k-1 noise inputs)")
        ax.set_ylabel(label)
        ax.legend(loc="best")
    fig.suptitle(f"Number of features (H1B), family '{fam}'", fontsize=9)
    return fig


def attribution_bars(summary: pd.DataFrame):
    """(d) Mean input gradient d yhat / d x_i of every input of the H1C tasks (mean, 95% CI over seeds)."""
    sel = summary[(summary["metric"] == "attribution_mean") & (summary["family"] == H1C_FAMILY)]
    if sel.empty:  # fall back to any family with attribution rows
        sel = summary[summary["metric"] == "attribution_mean"]
        sel = sel[sel["family"] == sel["family"].iloc[0]]
    conditions = list(dict.fromkeys(sel["condition"]))
    fig, axes = panels(len(conditions), ncols=min(len(conditions), 3), sharey=True)
    for ax, condition in zip(axes, conditions):
        c = sel[sel["condition"] == condition].sort_values("input")
        err = np.vstack([c["mean"] - c["ci_low"], c["ci_high"] - c["mean"]])
        ax.bar(
            np.arange(len(c)),
            c["mean"],
            yerr=err,
            capsize=2,
            color=[PALETTE[i % len(PALETTE)] for i in c["input"]],
            edgecolor="black",
            lw=0.5,
        )
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xticks(
            np.arange(len(c)),
            [f"x{i}: {n}" for i, n in zip(c["input"], c["input_name"])],
            rotation=30,
            ha="right",
            fontsize=6,
        )
        ax.set_title(condition)
        ax.set_xlabel("input")
    ncols = min(len(conditions), 3)
    for ax in axes[::ncols]:
        ax.set_ylabel("mean $\\partial\\hat y / \\partial x_i$\n(output per input unit)")
    fig.suptitle(
        "Which inputs are used (H1C): input-gradient attribution after training (mean, 95% CI over seeds)", fontsize=9
    )
    return fig


#: The study's figures (featurelab.figure_registry): name -> the tables it reads and the function drawing it.
FIGURES: dict[str, Figure] = {
    "learning_curves": Figure(("summary",), learning_curves),
    "attribution_bars": Figure(("summary",), attribution_bars),
    "scale_shift_heatmap": Figure(("summary",), scale_shift_heatmap, needs=("scale_shift",)),
    "distractor_steps": Figure(("summary",), distractor_steps, needs=("distractors",)),
}


#: Figures that draw the claims' thresholds get ``learnability.claims`` as well (see :func:`draw`).
WITH_CLAIMS = {"learning_curves"}


def draw(figure: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]):
    """Figure ``figure`` from the summary table (and the claims' thresholds where it draws them)."""
    summary = tables["summary"]
    draw_figure = FIGURES[figure].draw
    return draw_figure(summary, params["claims"]) if figure in WITH_CLAIMS else draw_figure(summary)
