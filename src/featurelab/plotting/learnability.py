"""Figures of the learnability study, drawn from ``results/learnability/summary.parquet`` only."""

from __future__ import annotations

import json
from typing import Callable

import numpy as np
import pandas as pd

from featurelab.plotting.style import PALETTE, band, panels

H1C_FAMILY = "features"


def _params(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([json.loads(p) for p in summary["params"]], index=summary.index)


def _order(conditions, summary: pd.DataFrame) -> list[str]:
    """Tasks by generator, then numerically by parameter values (scale 0.5 before scale 10)."""
    params = dict(zip(summary["condition"], summary["params"]))

    def key(c: str):
        return (c.split("[")[0], tuple(float(v) for _, v in sorted(json.loads(params[c]).items())))

    return sorted(dict.fromkeys(conditions), key=key)


def learning_curves(summary: pd.DataFrame):
    """(a) Held-out MSE over training per task family: geometric mean over seeds with a 95% CI computed
    on log10 MSE (log axis)."""
    data = summary[(summary["metric"] == "log10_eval_mse") & (summary["step"] >= 0)]
    families = list(dict.fromkeys(summary["family"]))
    fig, axes = panels(len(families), ncols=min(len(families), 3), sharey=False)
    for ax, family in zip(axes, families):
        sel = data[data["family"] == family]
        conditions = _order(sel["condition"], sel)
        many = len(conditions) > 10
        if many:  # a big grid (scale x shift): show the shift-0 scale loop and the scale-1 shift loop only
            keep = [c for c in conditions if c.endswith(",shift=0]") or c.startswith("scale_shift[scale=1,")]
            conditions = keep or conditions[:10]
        for k, condition in enumerate(conditions):
            curve = sel[sel["condition"] == condition].sort_values("step")
            band(ax, curve["step"], 10 ** curve["mean"], 10 ** curve["ci_low"], 10 ** curve["ci_high"],
                 PALETTE[k % len(PALETTE)],
                 condition, ls="-" if k < len(PALETTE) else "--")
        ax.set_yscale("log")
        ax.set_title(f"family '{family}' (n={int(sel['n'].max())} seeds)")
        ax.set_xlabel("training step (samples seen / batch size)")
        ax.set_ylabel("held-out MSE (var y = 1)")
        ax.legend(loc="best", fontsize=5)
    fig.suptitle("Learning curves: held-out MSE per task (geometric mean, 95% CI over seeds)", fontsize=9)
    return fig


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
    for ax, (metric, label, log) in zip(axes, [("log10_final_eval_mse", "final held-out MSE", True),
                                               ("steps_to_threshold", "steps to running loss < threshold", False)]):
        grid = sel[sel["metric"] == metric].pivot_table(index="shift", columns="scale", values="mean")
        values = grid.to_numpy()
        im = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
        mid = np.nanmin(values) + 0.5 * (np.nanmax(values) - np.nanmin(values))
        ax.set_xticks(range(grid.shape[1]), [f"{s:g}" for s in grid.columns], rotation=45)
        ax.set_yticks(range(grid.shape[0]), [f"{s:g}" for s in grid.index])
        ax.set_xlabel("input scale (x = (y + shift) * scale)")
        ax.set_ylabel("input shift")
        for (r, col), v in np.ndenumerate(values):
            text = f"{10 ** v:.0e}".replace("e-0", "e-") if log else f"{v / 1000:.1f}k"
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
    for ax, (metric, label) in zip(axes, [("steps_to_threshold", "steps to running loss < threshold"),
                                          ("log10_final_eval_mse", "final held-out MSE (var y = 1)")]):
        m = sel[sel["metric"] == metric].sort_values("k")
        mean, low, high = m["mean"], m["ci_low"], m["ci_high"]
        what = "mean"
        if metric.startswith("log10_"):
            mean, low, high, what = 10 ** mean, 10 ** low, 10 ** high, "geometric mean"
            ax.set_yscale("log")
        err = np.vstack([mean - low, high - mean])
        ax.errorbar(m["k"], mean, yerr=err, marker="o", color=PALETTE[0], capsize=2,
                    label=f"{what}, 95% CI (n={int(m['n'].max()) if len(m) else 0} seeds)")
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
        ax.bar(np.arange(len(c)), c["mean"], yerr=err, capsize=2, color=[PALETTE[i % len(PALETTE)] for i in c["input"]],
               edgecolor="black", lw=0.5)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xticks(np.arange(len(c)), [f"x{i}: {n}" for i, n in zip(c["input"], c["input_name"])], rotation=30,
                      ha="right", fontsize=6)
        ax.set_title(condition)
        ax.set_xlabel("input")
    ncols = min(len(conditions), 3)
    for ax in axes[::ncols]:
        ax.set_ylabel("mean $\\partial\\hat y / \\partial x_i$\n(output per input unit)")
    fig.suptitle("Which inputs are used (H1C): input-gradient attribution after training (mean, 95% CI over seeds)",
                 fontsize=9)
    return fig


FIGURES: dict[str, Callable[[pd.DataFrame], object]] = {
    "learning_curves": learning_curves,
    "scale_shift_heatmap": scale_shift_heatmap,
    "distractor_steps": distractor_steps,
    "attribution_bars": attribution_bars,
}
