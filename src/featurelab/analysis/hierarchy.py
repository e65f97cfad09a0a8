"""Analyses of the hierarchy study: loss summaries, the width a tree needs, TMS geometry, claims."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from featurelab.analysis.claims import CLAIM_COLUMNS, seeds_needed
from featurelab.analysis.stats import summarize_over_seeds
from featurelab.data.hierarchy import expected_marginals, feature_parents, sample_tree
from featurelab.seeding import numpy_rng

STUDY = "hierarchy"
SUMMARY_KEYS = ["depth", "n_features", "n_hidden", "metric"]
#: Columns of ``summary.parquet``: mean/sd/n/95% CI over seeds plus the per-seed minimum and maximum.
SUMMARY_COLUMNS = (*SUMMARY_KEYS, "mean", "sd", "n", "ci_low", "ci_high", "min", "max")
WIDTH_COLUMNS = ("depth", "n_features", "metric", "statistic", "threshold", "min_n_hidden", "solved", "max_n_hidden")


def final_losses(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of each run's last step (the trained model)."""
    last = runs.groupby(["depth", "seed"])["step"].transform("max")
    return runs[runs["step"] == last]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Final loss per (depth, n_hidden, metric) over seeds (instances): mean with 95% CI, min and max."""
    finals = final_losses(runs)
    out = summarize_over_seeds(finals, SUMMARY_KEYS)
    extremes = finals.groupby(SUMMARY_KEYS, sort=True)["value"].agg(["min", "max"]).reset_index()
    return out.merge(extremes, on=SUMMARY_KEYS)[list(SUMMARY_COLUMNS)]


def width_needed(summary: pd.DataFrame, metric: str, statistic: str, threshold: float) -> pd.DataFrame:
    """Per depth: the smallest n_hidden whose loss (``statistic`` over seeds) is below ``threshold``.

    ``solved`` is False when no tested width gets there; ``min_n_hidden`` is then NaN (the notebook
    silently reported the largest tested width instead, which reads as a solution).
    """
    rows = []
    for (depth, nf), g in summary[summary["metric"] == metric].groupby(["depth", "n_features"], sort=True):
        g = g.sort_values("n_hidden")
        below = g[g[statistic] < threshold]
        rows.append(dict(depth=int(depth), n_features=int(nf), metric=metric, statistic=statistic,
                         threshold=float(threshold),
                         min_n_hidden=float(below["n_hidden"].iloc[0]) if len(below) else np.nan,
                         solved=bool(len(below)), max_n_hidden=int(g["n_hidden"].max())))
    return pd.DataFrame(rows, columns=list(WIDTH_COLUMNS))


def directions(weights: pd.DataFrame, depth: int, seed: int, n_hidden: int = 2) -> pd.DataFrame:
    """The columns W_i (feature directions in hidden space) of one model, with each feature's tree level."""
    sel = weights[(weights["depth"] == depth) & (weights["seed"] == seed) & (weights["n_hidden"] == n_hidden)
                  & (weights["param"] == "W")]
    if sel.empty:
        raise ValueError(f"config key 'hierarchy.analysis.directions_depth': no n_hidden={n_hidden} model for depth "
                         f"{depth}, seed {seed} in the runs")
    wide = sel.pivot_table(index=["feature", "level"], columns="hidden", values="value").reset_index()
    wide.columns = ["feature", "level", *[f"h{c}" for c in wide.columns[2:]]]
    return wide.assign(depth=depth, seed=seed, n_hidden=n_hidden)


def tms_geometry(weights: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (seed, sparsity): per-feature norm ||W_i||, interference sum_{j!=i} (W^_i . W_j)^2 and bias;
    and the Gram matrix W^T W in long format (seed, sparsity, i, j, value)."""
    feats, grams = [], []
    for (seed, sparsity), g in weights.groupby(["seed", "sparsity"], sort=True):
        W = g[g["param"] == "W"].pivot_table(index="hidden", columns="feature", values="value").to_numpy()
        b = g[g["param"] == "b"].sort_values("feature")
        imp = b["importance"].to_numpy()
        norms = np.linalg.norm(W, axis=0)
        unit = W / np.maximum(norms, 1e-12)
        overlap = unit.T @ W  # (i, j): W^_i . W_j
        np.fill_diagonal(overlap, 0.0)
        nf = W.shape[1]
        feats.append(pd.DataFrame(dict(seed=seed, sparsity=sparsity, feature=np.arange(nf), importance=imp, norm=norms,
                                       interference=(overlap**2).sum(1), bias=b["value"].to_numpy())))
        gram = W.T @ W
        i, j = np.meshgrid(np.arange(nf), np.arange(nf), indexing="ij")
        grams.append(pd.DataFrame(dict(seed=seed, sparsity=sparsity, i=i.ravel(), j=j.ravel(), value=gram.ravel())))
    return pd.concat(feats, ignore_index=True), pd.concat(grams, ignore_index=True)


def generator_checks(depth: int, mode: str, seed: int, n: int) -> dict[str, float]:
    """Sample the generator and measure its invariants (used by the claims)."""
    x = sample_tree(n, depth, mode, numpy_rng(STUDY, f"depth{depth}", seed, "generator-check")).astype(bool)
    expected = expected_marginals(depth, mode)
    p_hat = x.mean(0)
    se = np.sqrt(expected * (1 - expected) / n)
    parents = feature_parents(depth)
    child_rows = parents >= 0
    orphan = (x[:, child_rows] & ~x[:, parents[child_rows]]).sum()
    co_active = (x[:, 0::2] & x[:, 1::2]).sum()  # features 2k, 2k+1 are siblings (heap nodes 2k+1, 2k+2)
    return dict(max_marginal_z=float(np.max(np.abs(p_hat - expected) / se)), co_active=int(co_active),
                orphans=int(orphan))


def evaluate_claims(runs: pd.DataFrame, summary: pd.DataFrame, widths: pd.DataFrame, tms_features: pd.DataFrame,
                    cfg: Mapping[str, Any], tree: Mapping[str, Any], analysis: Mapping[str, Any],
                    tms: Mapping[str, Any]) -> pd.DataFrame:
    """One row per claim (notebook 004 and the issue): measured value, threshold, pass/fail."""
    rows: list[dict[str, Any]] = []
    fraction = float(cfg["min_fraction_of_seeds"])
    metric, statistic, thr = analysis["metric"], analysis["statistic"], float(analysis["loss_threshold"])
    seeds = sorted(runs["seed"].unique())
    depth_max = int(runs["depth"].max())
    mode = tree["sampling"]

    checks = [generator_checks(depth_max, mode, int(s), int(cfg["generator_samples"])) for s in seeds]
    z = np.array([c["max_marginal_z"] for c in checks])
    ok = z <= float(cfg["max_marginal_z"])
    law = "4^-level" if mode == "exclusive" else "2^-level"
    rows.append(dict(claim="generator_marginals", condition=f"depth{depth_max} {mode}",
                     statement=f"a level-l node is active with probability {law} (max abs z-score over nodes <= "
                               f"{cfg['max_marginal_z']})",
                     measured=float(z.max()), measured_what=f"max over seeds and nodes of abs(p_hat - {law}) / se "
                                                            f"({cfg['generator_samples']} samples)",
                     threshold=float(cfg["max_marginal_z"]), seeds_passing=int(ok.sum()), n_seeds=len(ok),
                     passed=bool(ok.all())))
    for key, claim, text in (("co_active", "siblings_exclusive", "two siblings are never active together"),
                             ("orphans", "child_implies_parent", "an active child always has an active parent")):
        counts = np.array([c[key] for c in checks])
        rows.append(dict(claim=claim, condition=f"depth{depth_max} {mode}", statement=text,
                         measured=float(counts.sum()), measured_what="violations over all samples and seeds",
                         threshold=0.0, seeds_passing=int((counts == 0).sum()), n_seeds=len(counts),
                         passed=bool((counts == 0).all())))

    finals = final_losses(runs)
    finals = finals[finals["metric"] == metric]
    d1 = finals[(finals["depth"] == 1) & (finals["n_hidden"] == 2)]
    if len(d1):
        ok = d1["value"].to_numpy() < thr
        rows.append(dict(claim="depth1_solved", condition="depth1 n_hidden=2",
                         statement=f"depth 1 (2 features) is solved exactly at n_hidden 2 ({metric} < {thr:g})",
                         measured=float(d1["value"].max()), measured_what=f"max over seeds of {metric}",
                         threshold=thr, seeds_passing=int(ok.sum()), n_seeds=len(ok),
                         passed=bool(ok.sum() >= seeds_needed(fraction, len(ok)))))

    tol_rel, tol_abs = float(cfg["monotone_rel_tol"]), float(cfg["monotone_abs_tol"])
    sel = summary[summary["metric"] == metric]
    worst, where, depths_ok, n_depths = 0.0, "", 0, 0
    for depth, g in sel.groupby("depth", sort=True):
        g = g.sort_values("n_hidden")
        v, h = g[statistic].to_numpy(), g["n_hidden"].to_numpy()
        if len(v) < 2:
            continue
        n_depths += 1
        # relative increase from width h to the next; losses at the float floor (< tol_abs) count as tol_abs
        rise = (v[1:] - v[:-1]) / np.maximum(v[:-1], tol_abs)
        k = int(np.argmax(rise))
        if rise[k] > worst:
            worst, where = float(rise[k]), f"depth {depth}: n_hidden {h[k]} -> {h[k + 1]}"
        depths_ok += bool((v[1:] <= v[:-1] * (1 + tol_rel) + tol_abs).all())
    if n_depths:
        rows.append(dict(claim="loss_nonincreasing_in_width", condition=f"every depth (worst: {where or 'none'})",
                         statement=f"the {statistic} over seeds of {metric} does not increase with n_hidden "
                                   f"(tolerance {tol_rel:g} relative + {tol_abs:g} absolute)",
                         measured=worst, measured_what="largest relative increase (L(h+1) - L(h)) / max(L(h), abs tol)"
                                                       "; seeds columns count depths",
                         threshold=tol_rel, seeds_passing=depths_ok, n_seeds=n_depths,
                         passed=bool(depths_ok == n_depths)))

    solved = widths[widths["solved"]]
    slope = np.nan
    if solved["depth"].nunique() >= 2:
        slope = float(np.polyfit(np.log(solved["n_features"]), np.log(solved["min_n_hidden"]), 1)[0])
    max_slope = float(cfg["max_width_slope"])
    rows.append(dict(claim="width_grows_slowly", condition=f"{len(solved)} of {len(widths)} depths solved",
                     statement=f"the width needed for loss < {thr:g} grows far more slowly than the number of "
                               f"features (log-log slope <= {max_slope:g}; needs >= 2 solved depths)",
                     measured=slope, measured_what="slope of log(min n_hidden) vs log(n_features) over solved depths",
                     threshold=max_slope, seeds_passing=int(len(solved)), n_seeds=int(len(widths)),
                     passed=bool(np.isfinite(slope) and slope <= max_slope)))

    n_hidden, norm_thr = int(tms["n_hidden"]), float(tms["represented_norm"])
    represented = (tms_features.assign(on=tms_features["norm"] > norm_thr)
                   .groupby(["sparsity", "seed"])["on"].sum().reset_index())
    for which, s in (("dense", represented["sparsity"].min()), ("sparse", represented["sparsity"].max())):
        counts = represented[represented["sparsity"] == s]["on"].to_numpy()
        ok = counts <= n_hidden if which == "dense" else counts > n_hidden
        rows.append(dict(claim=f"tms_{which}_features_represented", condition=f"tms sparsity={s:g}",
                         statement=(f"{'dense' if which == 'dense' else 'sparse'} features: "
                                    f"{'at most' if which == 'dense' else 'more than'} n_hidden={n_hidden} features "
                                    f"are represented (norm of W_i > {norm_thr:g})"),
                         measured=float(counts.mean()), measured_what="mean over seeds of features with norm of W_i > "
                                                                      f"{norm_thr:g}",
                         threshold=float(n_hidden), seeds_passing=int(ok.sum()), n_seeds=len(ok),
                         passed=bool(ok.sum() >= seeds_needed(fraction, len(ok)))))
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
