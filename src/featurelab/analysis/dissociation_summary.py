"""Aggregation and claims of the dissociation study (pandas; no torch, so these jobs start fast)."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from featurelab.analysis.claims import CLAIM_COLUMNS, seeds_needed
from featurelab.analysis.stats import summarize_over_seeds

SUMMARY_KEYS = ["evaluation", "condition", "model", "x_name", "x", "metric"]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, n and 95% t-interval over seeds of every (evaluation, network, x, metric)."""
    out = summarize_over_seeds(runs, SUMMARY_KEYS)
    out.insert(0, "study", "dissociation")
    return out


def _curves(runs: pd.DataFrame, evaluation: str, metric: str) -> pd.DataFrame:
    """seed x condition -> values along x, as a wide frame indexed by (seed, x)."""
    sub = runs[(runs["evaluation"] == evaluation) & (runs["metric"] == metric)]
    return sub.pivot_table(index=["seed", "x"], columns="condition", values="value", aggfunc="first")


def _condition(runs: pd.DataFrame, model: str, evaluation: str) -> str | None:
    sub = runs[(runs["model"] == model) & (runs["evaluation"] == evaluation)]
    return None if sub.empty else str(sub["condition"].iloc[0])


def evaluate_claims(runs: pd.DataFrame, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The paper's claims, one row each (columns :data:`CLAIM_COLUMNS`). A claim holds when at least
    ``min_fraction_of_seeds`` of the seeds pass it; ``measured`` summarises all seeds (worst case for
    exactness claims, mean for gaps)."""
    seeds = sorted(runs["seed"].unique())
    need = seeds_needed(float(cfg["min_fraction_of_seeds"]), len(seeds))
    rows = []

    def add(claim, condition, statement, per_seed: pd.Series, passes: pd.Series, measured, what, threshold):
        ok = int(passes.reindex(seeds).fillna(False).astype(bool).sum())
        rows.append({"claim": claim, "condition": condition, "statement": statement, "measured": float(measured),
                     "measured_what": what, "threshold": float(threshold), "seeds_passing": ok,
                     "n_seeds": len(seeds), "passed": bool(ok >= need)})

    ex = runs[runs["evaluation"] == "exactness"].pivot_table(index=["seed", "condition"], columns="metric",
                                                               values="value", aggfunc="first")
    rel_tol = float(cfg["max_relative_logit_change"])
    for condition in sorted({c for _, c in ex.index if c != "trained"}):
        sub = ex.xs(condition, level="condition")
        passes = (sub["rel_dlogit"] <= rel_tol) & (sub["argmax_agreement"] == 1.0)
        add("function_preserved", condition,
            f"{condition} leaves clean predictions unchanged (max|dlogit| / max|logit| <= {rel_tol:g}, same argmax)",
            sub["rel_dlogit"], passes, sub["rel_dlogit"].max(), "max relative logit change (worst seed)", rel_tol)

    curve_tol = float(cfg["curve_tolerance"])
    inp = _curves(runs, "input_noise", "test_error")
    for model in ("scaled", "duplicated", "nuisance"):
        cond = _condition(runs, model, "input_noise")
        if cond is None:
            continue
        diff = (inp[cond] - inp["trained"]).abs().groupby(level="seed").max()
        add("same_input_noise_curve", cond,
            f"{cond} has the trained model's input-noise error curve (max |difference| <= {curve_tol:g})",
            diff, diff <= curve_tol, diff.max(), "max |error difference| over noise scales (worst seed)", curve_tol)

    gap = float(cfg["min_error_gap"])
    null = _condition(runs, "null-space perturbed", "input_noise")
    if null is not None:
        clean = ex["clean_error"].unstack("condition")
        d = (clean[null] - clean["trained"]).abs()
        add("null_space_keeps_accuracy", null, f"{null} has the trained model's clean test error",
            d, d <= curve_tol, d.max(), "|clean error difference| (worst seed)", curve_tol)
        g = (inp[null] - inp["trained"]).groupby(level="seed").mean()
        add("null_space_less_input_robust", null,
            f"{null} errs more under input noise (mean error gap over noise scales > {gap:g})",
            g, g > gap, g.mean(), "mean error gap over noise scales (mean over seeds)", gap)

    par = _curves(runs, "parameter_noise", "test_error")
    for model in ("scaled", "nuisance"):
        cond = _condition(runs, model, "parameter_noise")
        if cond is None:
            continue
        g = (par[cond] - par["trained"]).groupby(level="seed").mean()
        add("less_parameter_robust", cond,
            f"{cond} is less robust to parameter noise (mean error gap over noise scales > {gap:g})",
            g, g > gap, g.mean(), "mean error gap over noise scales (mean over seeds)", gap)

    tr = _curves(runs, "transfer", "transfer_error")
    cond = _condition(runs, "nuisance", "transfer")
    if cond is not None:
        g = (tr[cond] - tr["trained"]).groupby(level="seed").mean()
        add("nuisance_hurts_transfer", cond,
            f"{cond} transfers worse (mean rotation-probe error gap over budgets > {gap:g})",
            g, g > gap, g.mean(), "mean transfer error gap over budgets (mean over seeds)", gap)
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
