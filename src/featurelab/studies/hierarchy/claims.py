"""The claims of notebook 004 (and our readings of it) and of the superposition paper's sparsity sweep,
declared as data and judged over seeds by :func:`featurelab.claims.judge_claims`.

The tree runs (``runs``) and the TMS sweep (``tms_features``) have seeds of their own; each group of claims
is judged on its own table's seeds. Intervals (docs/hierarchy.md says why): the generator's invariants are
``exact`` checks of our code; a loss that must be near 0 is ``log_t``; the width-needed slope is one number
per seed (``t``); loss monotonicity is a property of the curve of the statistic over seeds (the figures'
minimum), so its interval comes from resampling seeds (``jackknife``); the TMS feature counts are ``t``.

"The model trained" (``claims.trained_loss_fraction``): a seed's final loss is at most that fraction of
both the loss of the best input-ignoring model (W = 0, b = E[x]) and its own initial loss. An untrained or
bias-only model fails it, so no claim about trained models passes on one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from featurelab.claims import Claim, NotRun, Precondition, Tables, judge_claims
from featurelab.seeding import numpy_rng
from featurelab.studies.hierarchy import STUDY
from featurelab.studies.hierarchy.analysis import constant_output_loss, final_losses, tms_constant_output_loss
from featurelab.studies.hierarchy.data import expected_marginals, feature_parents, n_features, sample_tree

TITLE = "hierarchy: superposition of tree-structured features (notebook 004)"
#: Losses at or below this are exact reconstructions up to float32 rounding (the figures' grey floor band):
#: the floor of the log-scale interval, so that a loss of exactly 0 has a logarithm.
LOSS_FLOOR = 1e-12
NOTEBOOK = "notebook 004"
PAPER = "Elhage et al. 2022, Toy Models of Superposition"

# ------------------------------------------------------------------------------------------- the generator


def generator_checks(depth: int, mode: str, seed: int, n: int) -> dict[str, float]:
    """One seed's sample of the generator and its invariants: the largest |z| of a node's activation rate
    against its law, co-active sibling pairs, active children without their parent, and how often the
    least-active node was active (a structural check means nothing for a node that never occurs)."""
    x = sample_tree(n, depth, mode, numpy_rng(STUDY, f"depth{depth}", seed, "generator-check")).astype(bool)
    expected = expected_marginals(depth, mode)
    z = np.abs(x.mean(0) - expected) / np.sqrt(expected * (1 - expected) / n)
    parents = feature_parents(depth)
    child = parents >= 0
    return dict(
        max_marginal_z=float(z.max()),
        co_active=int((x[:, 0::2] & x[:, 1::2]).sum()),  # features 2k, 2k+1 are siblings
        orphans=int((x[:, child] & ~x[:, parents[child]]).sum()),
        min_node_count=int(x.sum(0).min()),
        rarest_expected=float(n * expected.min()),
    )


def generator_table(seeds: Sequence, depth: int, mode: str, n: int) -> pd.DataFrame:
    """:func:`generator_checks` of every seed, one row per seed."""
    return pd.DataFrame([dict(seed=seed, **generator_checks(depth, mode, int(seed), n)) for seed in seeds])


def generator_value(tables: Tables, column: str) -> pd.Series:
    """One column of the generator table, per seed."""
    return tables["generator"].set_index("seed")[column]


# ------------------------------------------------------------------------------------------ the tree runs


def seed_finals(tables: Tables, metric: str) -> pd.DataFrame:
    """Every seed's final ``metric`` per (depth, n_hidden) (from the derived table ``finals``)."""
    finals = tables["finals"]
    return finals[finals["metric"] == metric][["depth", "n_features", "n_hidden", "seed", "value"]]


def trained_ratios(tables: Tables, metric: str, mode: str) -> pd.DataFrame:
    """Per (depth, n_hidden, seed): final loss / min(initial expected loss, input-ignoring loss). The init
    counts because large random weights on sparse features already beat the input-ignoring model."""
    runs = tables["runs"]
    finals = seed_finals(tables, metric).set_index(["depth", "n_hidden", "seed"])["value"]
    first = runs[(runs["step"] == 0) & (runs["metric"] == "loss_exact")]
    init = first.set_index(["depth", "n_hidden", "seed"])["value"]
    baseline = [constant_output_loss(int(d), mode) for d in init.index.get_level_values("depth")]
    reference = np.minimum(init, baseline).reindex(finals.index)
    return (finals / reference).rename("ratio").reset_index()


def trained_everywhere(tables: Tables, metric: str, mode: str, fraction: float) -> pd.Series:
    """Per seed: its models trained at every (depth, n_hidden)."""
    worst = trained_ratios(tables, metric, mode).groupby("seed")["ratio"].max()
    return worst <= fraction


def depth1_loss(tables: Tables, metric: str) -> pd.Series:
    """Per seed: the final loss of depth 1 at n_hidden 2."""
    finals = seed_finals(tables, metric)
    cell = finals[(finals["depth"] == 1) & (finals["n_hidden"] == 2)]
    if cell.empty:
        raise NotRun("depth 1 with n_hidden 2 is not in the config")
    return cell.set_index("seed")["value"]


def worst_rise(tables: Tables, seeds: list, metric: str, statistic: str, abs_tol: float) -> float:
    """The largest rise of the loss curve (``statistic`` over ``seeds`` per (depth, n_hidden)) from one
    width to the next, relative to max(loss, ``abs_tol``): > 0 where the loss increases with width."""
    finals = seed_finals(tables, metric)
    curve = finals[finals["seed"].isin(seeds)].groupby(["depth", "n_hidden"], sort=True)["value"].agg(statistic)
    rises = []
    for _, loss in curve.groupby(level="depth"):
        v = loss.to_numpy()
        rises.extend((v[1:] - v[:-1]) / np.maximum(v[:-1], abs_tol))
    if not rises:
        raise NotRun("no depth with two widths is in the config")
    return float(max(rises))


def seed_widths(tables: Tables, metric: str, threshold: float) -> pd.DataFrame:
    """Per (seed, depth): the smallest n_hidden whose final loss is below ``threshold`` (NaN: none is)."""
    finals = seed_finals(tables, metric)
    solved = finals[finals["value"] < threshold].groupby(["seed", "depth"])["n_hidden"].min()
    cells = finals.groupby(["seed", "depth"])["n_features"].first()
    return pd.DataFrame({"n_features": cells, "width": solved.reindex(cells.index)}).reset_index()


def solved_every_depth(tables: Tables, metric: str, threshold: float) -> pd.Series:
    """Per seed: some tested width solves every depth (a depth it leaves unsolved needs a width above the
    largest tested, and a slope over the solved depths alone would read too low)."""
    return seed_widths(tables, metric, threshold).groupby("seed")["width"].agg(lambda w: bool(w.notna().all()))


def width_slope(tables: Tables, metric: str, threshold: float) -> pd.Series:
    """Per seed: the least-squares slope of log(width needed) against log(n_features) over its solved
    depths (1: width proportional to the number of features)."""
    widths = seed_widths(tables, metric, threshold)
    if widths["depth"].nunique() < 2:
        raise NotRun("a second depth is not in the config (a slope needs two)")

    def slope(g: pd.DataFrame) -> float:
        g = g.dropna()
        return float(np.polyfit(np.log(g["n_features"]), np.log(g["width"]), 1)[0]) if len(g) >= 2 else np.nan

    return widths.groupby("seed")[["n_features", "width"]].apply(slope)


# ------------------------------------------------------------------------------------- the TMS sparsity sweep


def tms_runs(features: pd.DataFrame, norm: float) -> pd.DataFrame:
    """Per (seed, sparsity) of the TMS features table: features with ||W_i|| > ``norm`` and the loss ratio
    of "the model trained"."""
    features = features.assign(on=lambda f: f["norm"] > norm)
    runs = (
        features.groupby(["seed", "sparsity"], sort=True)
        .agg(
            represented=("on", "sum"),
            importance=("importance", list),
            final_loss=("final_loss", "first"),
            initial_loss=("initial_loss", "first"),
        )
        .reset_index()
    )
    baseline = [tms_constant_output_loss(i, s) for i, s in zip(runs["importance"], runs["sparsity"], strict=True)]
    runs["ratio"] = runs["final_loss"] / np.minimum(runs["initial_loss"], baseline)
    return runs[["seed", "sparsity", "represented", "ratio"]]


def tms_at(tables: Tables, which: str) -> pd.DataFrame:
    """The derived table ``tms_runs`` at the dense (S = 0) or the sparsest configured sparsity, by seed."""
    runs = tables["tms_runs"]
    sparsity = 0.0 if which == "dense" else runs["sparsity"].max()
    if which == "dense" and not (runs["sparsity"] == 0.0).any():
        raise NotRun("sparsity 0 (dense features) is not in the config")
    if which == "sparse" and sparsity <= 0.0:
        raise NotRun("no sparsity above 0 is in the config")
    return runs[runs["sparsity"] == sparsity].set_index("seed")


def tms_represented(tables: Tables, which: str) -> pd.Series:
    """Per seed: features represented at the dense or sparse end of the sweep."""
    return tms_at(tables, which)["represented"]


def tms_trained(tables: Tables, which: str, fraction: float) -> pd.Series:
    """Per seed: the TMS model trained at that end of the sweep."""
    return tms_at(tables, which)["ratio"] <= fraction


# --------------------------------------------------------------------------------------------- the claims


def generator_claims(params: Mapping[str, Any]) -> list[Claim]:
    """The sampler's law and invariants: checks of our code, not evidence for the notebook."""
    cfg, mode = params["claims"], params["tree"]["sampling"]
    depth = max(int(d) for d in params["tree"]["depths"])
    n, min_count = int(cfg["generator_samples"]), float(cfg["min_expected_count"])
    law = "4^-level" if mode == "exclusive" else "2^-level"
    condition = f"depth{depth} {mode}, {n} samples per seed"
    z_max, nodes = float(cfg["max_marginal_z"]), n_features(depth)
    tail = 2 * float(stats.norm.sf(z_max))  # P(|z| > z_max) of one node under a correct sampler
    seen = Precondition(
        "every node was active in at least one sample of the seed (otherwise nothing was tested)",
        lambda tables: generator_value(tables, "min_node_count") >= 1,
    )
    return [
        Claim(
            "generator_marginals",
            f"a level-l node is active with probability {law} (largest |z| over nodes)",
            "<=",
            z_max,
            f"our reading (claims.max_marginal_z): a correct sampler exceeds |z| = {z_max:g} at one of its "
            f"{nodes} nodes with probability <= {nodes} x {tail:.2g} = {nodes * tail:.2g} per seed (normal tails, "
            "union bound); a wrong law (2^-l for 4^-l) gives z in the hundreds",
            statistic=lambda tables: generator_value(tables, "max_marginal_z"),
            interval="exact",
            kind="check",
            condition=condition,
            precondition=Precondition(
                f"the rarest node's expected count per seed >= {min_count:g} (claims.min_expected_count: "
                "the z-score's normal approximation; fewer samples give a test without power)",
                lambda tables: generator_value(tables, "rarest_expected") >= min_count,
            ),
            exact_reason="a deterministic test of the sampler with a stated false-alarm rate, not an estimate: "
            "every seed must be within the bound",
        ),
        Claim(
            "siblings_exclusive",
            "two siblings are never active together (co-active sibling pairs over all samples)",
            "<=",
            0.0,
            f"{NOTEBOOK}'s generator: left = (a - b == 1), right = (b - a == 1) for two coins a, b",
            statistic=lambda tables: generator_value(tables, "co_active"),
            interval="exact",
            kind="check",
            condition=condition,
            precondition=seen,
            exact_reason="the sampler draws each sibling pair from two coins whose two one-hot outcomes "
            "exclude each other; an integer count, which rounding cannot change",
        ),
        Claim(
            "child_implies_parent",
            "an active child always has an active parent (active children without their parent)",
            "<=",
            0.0,
            f"{NOTEBOOK}'s generator: children are multiplied by their parent",
            statistic=lambda tables: generator_value(tables, "orphans"),
            interval="exact",
            kind="check",
            condition=condition,
            precondition=seen,
            exact_reason="the sampler masks every child with its parent; an integer count",
        ),
    ]


def tree_claims(params: Mapping[str, Any]) -> list[Claim]:
    """The notebook's reading of its tree runs: depth 1 solved, loss falling with width, width needed
    growing slowly."""
    cfg, analysis, mode = params["claims"], params["analysis"], params["tree"]["sampling"]
    metric, statistic, threshold = analysis["metric"], analysis["statistic"], float(analysis["loss_threshold"])
    fraction, rel_tol, abs_tol = (
        float(cfg["trained_loss_fraction"]),
        float(cfg["monotone_rel_tol"]),
        float(cfg["monotone_abs_tol"]),
    )
    trained = Precondition(
        f"the seed's models trained at every (depth, n_hidden): final {metric} / min(initial loss, loss of "
        f"the best input-ignoring model W = 0, b = E[x]) <= {fraction:g} (claims.trained_loss_fraction)",
        partial(trained_everywhere, metric=metric, mode=mode, fraction=fraction),
    )
    return [
        Claim(
            "depth1_solved",
            f"depth 1 (2 features) is solved exactly at n_hidden 2 ({metric}, geometric mean over seeds)",
            "<=",
            threshold,
            f"{NOTEBOOK}: 'threshold = 1e-5  # Define your threshold for \"good\" loss here' "
            "(analysis.loss_threshold), applied to one model's loss; that depth 1 meets it is our reading",
            statistic=partial(depth1_loss, metric=metric),
            interval="log_t",
            floor=LOSS_FLOOR,
            condition="depth1 n_hidden=2",
        ),
        Claim(
            "loss_nonincreasing_in_width",
            f"the {statistic} over seeds of {metric} does not rise with n_hidden at any depth (largest rise "
            f"between neighbouring widths, relative to max(loss, {abs_tol:g}))",
            "<=",
            rel_tol,
            "our reading of the notebook's loss-vs-n_hidden plot (it states no tolerance): 5 % "
            "(claims.monotone_rel_tol) allows the sampling noise of loss_fresh between widths; "
            f"{abs_tol:g} (claims.monotone_abs_tol), a tenth of the 'good' loss, makes rounding among solved "
            "widths no rise",
            across_seeds=partial(worst_rise, metric=metric, statistic=statistic, abs_tol=abs_tol),
            interval="jackknife",
            condition="every depth with two widths or more",
            precondition=trained,
        ),
        Claim(
            "width_grows_slowly",
            f"the width needed for {metric} < {threshold:g} grows far more slowly than the number of "
            "features (per seed: log-log slope of width needed against n_features)",
            "<=",
            float(cfg["max_width_slope"]),
            "our reading of the notebook's 'Minimum n_hidden for Loss < threshold by Tree Depth' bar plot: "
            "'far more slowly' = at most like the square root (claims.max_width_slope; slope 1 = proportional)",
            statistic=partial(width_slope, metric=metric, threshold=threshold),
            interval="t",
            condition="every configured depth",
            precondition=Precondition(
                f"the seed solved every depth ({metric} < {threshold:g}) at some tested width; solved implies trained",
                partial(solved_every_depth, metric=metric, threshold=threshold),
            ),
        ),
    ]


def tms_claims(params: Mapping[str, Any], sparsest: float) -> list[Claim]:
    """The superposition paper's sparsity sweep: dense features get n_hidden dimensions, sparse ones more."""
    cfg, tms = params["claims"], params["tms"]
    n_hidden, norm, fraction = int(tms["n_hidden"]), float(tms["represented_norm"]), float(cfg["trained_loss_fraction"])
    source = (
        f"{PAPER}: 'With dense features, the model learns to represent an orthogonal basis of the most "
        "important two features [...] and the other three features are not represented. But if we make the "
        "features sparse, this changes'; threshold n_hidden + 1/2, the midpoint between n_hidden and the next "
        f"count; a feature is represented when ||W_i|| > {norm:g} (tms.represented_norm, our reading: the "
        "midpoint between represented, ~1, and dropped, ~0)"
    )
    claims = []
    for which, side, words, sparsity in (
        ("dense", "<=", "at most", 0.0),
        ("sparse", ">=", "more than", sparsest),
    ):
        claims.append(
            Claim(
                f"tms_{which}_features_represented",
                f"{which} features: {words} n_hidden = {n_hidden} features are represented (||W_i|| > {norm:g}; "
                "mean over seeds)",
                side,
                n_hidden + 0.5,
                source,
                statistic=partial(tms_represented, which=which),
                interval="t",
                condition=f"tms sparsity={sparsity:g}",
                precondition=Precondition(
                    f"the model trained: final loss / min(initial loss, loss of the best input-ignoring model "
                    f"W = 0, b = E[x]) <= {fraction:g} (claims.trained_loss_fraction)",
                    partial(tms_trained, which=which, fraction=fraction),
                ),
            )
        )
    return claims


def derived_tables(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The rule's tables plus what the claims read from them, computed once: ``generator`` (the sampler's
    checks per seed of the tree runs), ``finals`` (each run's last step) and ``tms_runs`` (per TMS seed and
    sparsity)."""
    cfg, tree = params["claims"], params["tree"]
    seeds = sorted(tables["runs"]["seed"].unique())
    depth = max(int(d) for d in tree["depths"])
    return {
        **tables,
        "generator": generator_table(seeds, depth, tree["sampling"], int(cfg["generator_samples"])),
        "finals": final_losses(tables["runs"]),
        "tms_runs": tms_runs(tables["tms_features"], float(params["tms"]["represented_norm"])),
    }


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py): the
    generator's checks and the tree claims on the tree runs' seeds, the TMS claims on the sweep's."""
    tables = derived_tables(tables, params)
    seeds = sorted(tables["runs"]["seed"].unique())
    tms_seeds = sorted(tables["tms_features"]["seed"].unique())
    sparsest = float(tables["tms_features"]["sparsity"].max())
    share = float(params["claims"]["min_fraction_of_seeds"])
    tree = [*generator_claims(params), *tree_claims(params)]
    return pd.concat(
        [
            judge_claims(tree, tables, seeds, share),
            judge_claims(tms_claims(params, sparsest), tables, tms_seeds, share),
        ],
        ignore_index=True,
    )
