"""The claims of notebook 004 (and the issues' readings of it), measured on the hierarchy study's runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from featurelab.claims import claim_row, claims_frame, seeds_needed
from featurelab.seeding import numpy_rng
from featurelab.studies.hierarchy.analysis import STUDY, constant_output_loss, final_losses, tms_constant_output_loss
from featurelab.studies.hierarchy.data import expected_marginals, feature_parents, sample_tree


def generator_checks(depth: int, mode: str, seed: int, n: int) -> dict[str, float]:
    """Sample the generator and measure its invariants (used by the claims).

    ``min_node_count``: how often the least-active node was active - the structural checks mean nothing
    for a node (or sibling pair) that never occurs in the samples.
    """
    x = sample_tree(n, depth, mode, numpy_rng(STUDY, f"depth{depth}", seed, "generator-check")).astype(bool)
    expected = expected_marginals(depth, mode)
    p_hat = x.mean(0)
    se = np.sqrt(expected * (1 - expected) / n)
    parents = feature_parents(depth)
    child_rows = parents >= 0
    orphan = (x[:, child_rows] & ~x[:, parents[child_rows]]).sum()
    co_active = (x[:, 0::2] & x[:, 1::2]).sum()  # features 2k, 2k+1 are siblings (heap nodes 2k+1, 2k+2)
    return dict(
        max_marginal_z=float(np.max(np.abs(p_hat - expected) / se)),
        co_active=int(co_active),
        orphans=int(orphan),
        min_node_count=int(x.sum(0).min()),
    )


def trained_ratios(runs: pd.DataFrame, metric: str, statistic: str, mode: str) -> pd.DataFrame:
    """Per (depth, n_hidden): ``statistic`` over seeds of final loss / reference, the reference being the
    smaller of the input-ignoring model's loss (:func:`constant_output_loss`) and the seed's own initial
    expected loss (``loss_exact`` at step 0: an init that already beats the baseline - large random
    weights on sparse features do - must still be improved on)."""
    finals = final_losses(runs)
    finals = finals[finals["metric"] == metric].set_index(["depth", "n_hidden", "seed"])["value"]
    init = runs[(runs["step"] == 0) & (runs["metric"] == "loss_exact")].set_index(["depth", "n_hidden", "seed"])
    ref = np.minimum(init["value"], [constant_output_loss(int(d), mode) for d in init.index.get_level_values(0)])
    ratio = (finals / ref.reindex(finals.index)).rename("ratio").reset_index()
    return ratio.groupby(["depth", "n_hidden"], sort=True)["ratio"].agg(statistic).reset_index()


def evaluate_claims(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    widths: pd.DataFrame,
    tms_features: pd.DataFrame,
    cfg: Mapping[str, Any],
    tree: Mapping[str, Any],
    analysis: Mapping[str, Any],
    tms: Mapping[str, Any],
) -> pd.DataFrame:
    """One row per claim (notebook 004 and the issues), each with its precondition (see docs/hierarchy.md).

    "The model trained" (``claims.trained_loss_fraction``): the final loss is at most that fraction of
    both the loss of the best input-ignoring model (W = 0, b = E[x]) and the model's own initial loss;
    an untrained or bias-only model fails it, so no claim about trained models passes on one.
    """
    rows: list[dict[str, Any]] = []
    fraction = float(cfg["min_fraction_of_seeds"])
    trained_frac = float(cfg["trained_loss_fraction"])
    metric, statistic, thr = analysis["metric"], analysis["statistic"], float(analysis["loss_threshold"])
    seeds = sorted(runs["seed"].unique())
    depth_max = int(runs["depth"].max())
    mode = tree["sampling"]
    trained_text = (
        f"the models trained: at every compared (depth, width), the {statistic} over seeds of final "
        f"{metric} / min(initial loss, loss of the best input-ignoring model W = 0, b = E[x]) <= "
        f"{trained_frac:g}"
    )

    n_gen, min_count = int(cfg["generator_samples"]), float(cfg["min_expected_count"])
    checks = [generator_checks(depth_max, mode, int(s), n_gen) for s in seeds]
    z = np.array([c["max_marginal_z"] for c in checks])
    ok = z <= float(cfg["max_marginal_z"])
    law = "4^-level" if mode == "exclusive" else "2^-level"
    rarest = float(n_gen * expected_marginals(depth_max, mode).min())
    rows.append(
        claim_row(
            "generator_marginals",
            f"depth{depth_max} {mode}",
            f"a level-l node is active with probability {law} (max abs z-score over nodes <= {cfg['max_marginal_z']})",
            measured=float(z.max()),
            measured_what=f"max over seeds and nodes of abs(p_hat - {law}) / se ({n_gen} samples)",
            threshold=float(cfg["max_marginal_z"]),
            seeds_passing=int(ok.sum()),
            n_seeds=len(ok),
            holds=bool(ok.all()),
            precondition=f"the rarest node's expected count per seed >= {min_count:g} (the z-score's normal "
            "approximation; fewer samples give a test without power)",
            precondition_met=rarest >= min_count,
            unmet_reason=f"expected count of the rarest node {rarest:.3g} < {min_count:g}",
        )
    )
    least = min(c["min_node_count"] for c in checks)
    for key, claim, text in (
        ("co_active", "siblings_exclusive", "two siblings are never active together"),
        ("orphans", "child_implies_parent", "an active child always has an active parent"),
    ):
        counts = np.array([c[key] for c in checks])
        rows.append(
            claim_row(
                claim,
                f"depth{depth_max} {mode}",
                text,
                measured=float(counts.sum()),
                measured_what="violations over all samples and seeds",
                threshold=0.0,
                seeds_passing=int((counts == 0).sum()),
                n_seeds=len(counts),
                holds=bool((counts == 0).all()),
                precondition="every node was active in at least one sample of every seed",
                precondition_met=least >= 1,
                unmet_reason=f"a node was never active (least count {least})",
            )
        )

    finals = final_losses(runs)
    finals = finals[finals["metric"] == metric]
    d1 = finals[(finals["depth"] == 1) & (finals["n_hidden"] == 2)]
    if len(d1):
        ok = d1["value"].to_numpy() < thr
        # no precondition: an untrained or stuck model's loss is far above the threshold, so this cannot
        # pass vacuously
        rows.append(
            claim_row(
                "depth1_solved",
                "depth1 n_hidden=2",
                f"depth 1 (2 features) is solved exactly at n_hidden 2 ({metric} < {thr:g})",
                measured=float(d1["value"].max()),
                measured_what=f"max over seeds of {metric}",
                threshold=thr,
                seeds_passing=int(ok.sum()),
                n_seeds=len(ok),
                holds=bool(ok.sum() >= seeds_needed(fraction, len(ok))),
            )
        )

    tol_rel, tol_abs = float(cfg["monotone_rel_tol"]), float(cfg["monotone_abs_tol"])
    sel = summary[summary["metric"] == metric]
    cells = trained_ratios(runs, metric, statistic, mode)
    cells["trained"] = cells["ratio"] <= trained_frac
    worst, where, depths_ok, n_depths, compared = 0.0, "", 0, 0, []
    for depth, g in sel.groupby("depth", sort=True):
        g = g.sort_values("n_hidden")
        v, h = g[statistic].to_numpy(), g["n_hidden"].to_numpy()
        if len(v) < 2:
            continue
        n_depths += 1
        compared.append(int(depth))
        # relative increase from width h to the next; losses at the float floor (< tol_abs) count as tol_abs,
        # so rounding noise among solved widths (0 vs 1e-15) is no increase
        rise = (v[1:] - v[:-1]) / np.maximum(v[:-1], tol_abs)
        k = int(np.argmax(rise))
        if rise[k] > worst:
            worst, where = float(rise[k]), f"depth {depth}: n_hidden {h[k]} -> {h[k + 1]}"
        depths_ok += bool((v[1:] <= v[:-1] * (1 + tol_rel) + tol_abs).all())
    if n_depths:
        c = cells[cells["depth"].isin(compared)]
        untrained = c[~c["trained"]]
        rows.append(
            claim_row(
                "loss_nonincreasing_in_width",
                f"every depth (worst: {where or 'none'})",
                f"the {statistic} over seeds of {metric} does not increase with n_hidden "
                f"(tolerance {tol_rel:g} relative + {tol_abs:g} absolute)",
                measured=worst,
                measured_what="largest relative increase (L(h+1) - L(h)) / max(L(h), abs tol); "
                "seeds columns count depths",
                threshold=tol_rel,
                seeds_passing=depths_ok,
                n_seeds=n_depths,
                holds=depths_ok == n_depths,
                precondition=trained_text,
                precondition_met=untrained.empty,
                unmet_reason=f"{len(untrained)} of {len(c)} (depth, width) models did not train (worst loss ratio "
                f"{c['ratio'].max():.3g} at depth {int(c.loc[c['ratio'].idxmax(), 'depth'])} n_hidden "
                f"{int(c.loc[c['ratio'].idxmax(), 'n_hidden'])})"
                if len(untrained)
                else "",
            )
        )

    solved = widths[widths["solved"]]
    slope = np.nan
    if solved["depth"].nunique() >= 2:
        slope = float(np.polyfit(np.log(solved["n_features"]), np.log(solved["min_n_hidden"]), 1)[0])
    max_slope = float(cfg["max_width_slope"])
    rows.append(
        claim_row(
            "width_grows_slowly",
            f"{len(solved)} of {len(widths)} depths solved",
            f"the width needed for loss < {thr:g} grows far more slowly than the number of features "
            f"(log-log slope <= {max_slope:g})",
            measured=slope,
            measured_what="slope of log(min n_hidden) vs log(n_features) over solved depths",
            threshold=max_slope,
            seeds_passing=int(len(solved)),
            n_seeds=int(len(widths)),
            holds=bool(np.isfinite(slope) and slope <= max_slope),
            precondition="at least 2 depths solved (a slope needs two points; solved implies trained)",
            precondition_met=solved["depth"].nunique() >= 2,
            unmet_reason=f"{solved['depth'].nunique()} depth(s) solved",
        )
    )

    n_hidden, norm_thr = int(tms["n_hidden"]), float(tms["represented_norm"])
    per_run = pd.DataFrame(
        [
            dict(
                sparsity=s,
                seed=seed,
                on=int((g["norm"] > norm_thr).sum()),
                final_loss=float(g["final_loss"].iloc[0]),
                initial_loss=float(g["initial_loss"].iloc[0]),
                baseline=tms_constant_output_loss(g.sort_values("feature")["importance"], s),
            )
            for (s, seed), g in tms_features.groupby(["sparsity", "seed"], sort=True)
        ]
    )
    per_run["ratio"] = per_run["final_loss"] / np.minimum(per_run["initial_loss"], per_run["baseline"])
    per_run["trained"] = per_run["ratio"] <= trained_frac
    for which, s in (("dense", per_run["sparsity"].min()), ("sparse", per_run["sparsity"].max())):
        g = per_run[per_run["sparsity"] == s]
        counts, trained = g["on"].to_numpy(), g["trained"].to_numpy()
        ok = (counts <= n_hidden if which == "dense" else counts > n_hidden) & trained
        need = seeds_needed(fraction, len(g))
        rows.append(
            claim_row(
                f"tms_{which}_features_represented",
                f"tms sparsity={s:g}",
                f"{which} features: {'at most' if which == 'dense' else 'more than'} n_hidden={n_hidden} features are "
                f"represented (norm of W_i > {norm_thr:g})",
                measured=float(counts.mean()),
                measured_what=f"mean over seeds of features with norm of W_i > {norm_thr:g}",
                threshold=float(n_hidden),
                seeds_passing=int(ok.sum()),
                n_seeds=len(ok),
                holds=bool(ok.sum() >= need),
                precondition=f"the model trained in >= {need} of {len(g)} seeds: final loss / min(initial loss, loss of "
                f"the best input-ignoring model W = 0, b = E[x]) <= {trained_frac:g}; seeds count only "
                "where it did",
                precondition_met=int(trained.sum()) >= need,
                unmet_reason=f"{int(trained.sum())} of {len(g)} seeds trained (loss ratio {g['ratio'].min():.3g} at best)",
            )
        )
    return claims_frame(rows)


TITLE = "hierarchy: superposition of tree-structured features (notebook 004)"


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    return evaluate_claims(
        tables["runs"],
        tables["summary"],
        tables["width_needed"],
        tables["tms_features"],
        params["claims"],
        params["tree"],
        params["analysis"],
        params["tms"],
    )
