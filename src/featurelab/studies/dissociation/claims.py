"""The claims of Braun, Grant & Saxe (ICML 2025), measured on the dissociation study's runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from featurelab.claims import claim_row, claims_frame, seeds_needed
from featurelab.studies.dissociation.analysis import probe_label


def _curves(runs: pd.DataFrame, evaluation: str, metric: str) -> pd.DataFrame:
    """seed x condition -> values along x, as a wide frame indexed by (seed, x)."""
    sub = runs[(runs["evaluation"] == evaluation) & (runs["metric"] == metric)]
    return sub.pivot_table(index=["seed", "x"], columns="condition", values="value", aggfunc="first")


def _condition(runs: pd.DataFrame, model: str, evaluation: str) -> str | None:
    sub = runs[(runs["model"] == model) & (runs["evaluation"] == evaluation)]
    return None if sub.empty else str(sub["condition"].iloc[0])


def _per_seed(runs: pd.DataFrame, evaluation: str, metric: str, condition: str) -> pd.Series:
    sub = runs[(runs["evaluation"] == evaluation) & (runs["metric"] == metric) & (runs["condition"] == condition)]
    return sub.groupby("seed")["value"].first()


def _fmt_values(values: pd.Series) -> str:
    return ", ".join(f"seed {int(k)}: {v:.3g}" for k, v in values.items())


@dataclass(frozen=True, eq=False)
class Precondition:
    """A precondition judged per seed, as one or more parts (text, seed -> met, seed -> value behind it);
    ``a & b`` is met on a seed where both are."""

    parts: tuple[tuple[str, pd.Series, pd.Series], ...]

    @classmethod
    def of(cls, text: str, met: pd.Series, values: pd.Series) -> Precondition:
        return cls(((text, met.astype(bool), values),))

    def __and__(self, other: Precondition) -> Precondition:
        return Precondition(self.parts + other.parts)

    @property
    def text(self) -> str:
        return "; ".join(text for text, _, _ in self.parts)

    def met(self, seeds: list) -> pd.Series:
        out = pd.Series(True, index=seeds)
        for _, met, _ in self.parts:
            out &= met.reindex(seeds).fillna(False).astype(bool)
        return out

    def unmet(self, seeds: list, need: int) -> str:
        """Which parts fail on too many seeds, with their per-seed values."""
        out = [
            f"{text}: met on {int(met.reindex(seeds).fillna(False).sum())}/{len(seeds)} seeds, {need} needed "
            f"({_fmt_values(values.reindex(seeds))})"
            for text, met, values in self.parts
            if int(met.reindex(seeds).fillna(False).sum()) < need
        ]
        return "; ".join(out) or f"{self.text}: all met on {int(self.met(seeds).sum())} seeds, {need} needed"


def preconditions(runs: pd.DataFrame, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The claims' preconditions, per seed (see ``docs/dissociation.md`` for the thresholds' sources).

    - ``trained``: the network learned MNIST - its test error after the last epoch is at most
      ``trained_max_test_error`` (chance is 0.9). The notebook evaluated untrained networks (epochs 0);
      a claim about the paper's task-optimised network means nothing for those.
    - ``nuisance[condition]``: the nuisance neurons are active on at least one test image (dead ones
      make the manipulation vacuous).
    - ``null_space``: the null-space perturbation moved W1 (an empty null space leaves it unchanged).
    - ``probe``: the rotation probe learns on the trained network - its transfer error at the largest
      budget is at most ``probe_max_error`` (chance is 0.75); a probe that learns nothing makes
      differences between networks meaningless.
    """
    out: dict[str, Any] = {"nuisance": {}}
    training = runs[(runs["evaluation"] == "training") & (runs["metric"] == "test_error")]
    final = training.sort_values("x").groupby("seed")["value"].last()
    t_max = float(cfg["trained_max_test_error"])
    out["trained"] = Precondition.of(
        f"the network trained (final test error <= {t_max:g}; chance 0.9)", final <= t_max, final
    )
    ex = runs[runs["evaluation"] == "exactness"]
    for condition in sorted(ex.loc[ex["model"] == "nuisance", "condition"].unique()):
        active = _per_seed(runs, "exactness", "nuisance_active_fraction", condition)
        out["nuisance"][condition] = Precondition.of(
            f"{condition}'s neurons active on some test image (fraction > 0)", active > 0, active
        )
    null = _condition(runs, "null-space perturbed", "exactness")
    if null is not None:
        moved = _per_seed(runs, "exactness", "max_abs_dw1", null)
        out["null_space"] = Precondition.of("the null-space perturbation moved W1 (max |dW1| > 0)", moved > 0, moved)
    tr = runs[(runs["evaluation"] == "transfer") & (runs["condition"] == "trained")]
    if not tr.empty:
        largest = tr[tr["x"] == tr["x"].max()].groupby("seed")["value"].first()
        p_max = float(cfg["probe_max_error"])
        out["probe"] = Precondition.of(
            f"the probe learns on the trained network (error at the largest budget <= {p_max:g}; chance 0.75)",
            largest <= p_max,
            largest,
        )
    return out


def _variant_precondition(pre: Mapping[str, Any], runs: pd.DataFrame, condition: str) -> Precondition:
    """The trained precondition, and the variant's own non-vacuity when it has one."""
    model = runs.loc[runs["condition"] == condition, "model"].iloc[0]
    out = pre["trained"]
    if model == "nuisance" and condition in pre["nuisance"]:
        out = out & pre["nuisance"][condition]
    if model == "null-space perturbed" and "null_space" in pre:
        out = out & pre["null_space"]
    return out


def evaluate_claims(runs: pd.DataFrame, cfg: Mapping[str, Any], probe: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The paper's claims, one :func:`~featurelab.claims.claim_row` each. A claim holds when at
    least ``min_fraction_of_seeds`` of the seeds pass it *and* meet its precondition
    (:func:`preconditions`); ``measured`` summarises all seeds (worst case for exactness claims, mean for
    gaps). ``probe`` (the transfer table's provenance record) names the probe in the transfer claims.

    Exactness claims compare logits relative to their size (``max_relative_logit_change``), never counts
    of flipped predictions: a function-preserving manipulation reorders float32 operations, and an image
    whose top two logits are within rounding of each other can flip either way (one did at sigma = 1.19
    on one machine). A prediction can only change where the margin is at most twice the largest logit
    change, so the logit criterion also bounds the error curves, and float rounding (about 1e-7 of the
    logits) sits three decades below the threshold."""
    seeds = sorted(runs["seed"].unique())
    need = seeds_needed(float(cfg["min_fraction_of_seeds"]), len(seeds))
    pre = preconditions(runs, cfg)
    rows = []

    def add(claim, condition, statement, passes: pd.Series, measured, what, threshold, precondition) -> None:
        met = precondition.met(seeds)
        ok = passes.reindex(seeds).fillna(False).astype(bool) & met
        rows.append(
            claim_row(
                claim,
                condition,
                statement,
                measured=float(measured),
                measured_what=what,
                threshold=float(threshold),
                seeds_passing=int(ok.sum()),
                n_seeds=len(seeds),
                holds=int(ok.sum()) >= need,
                precondition=precondition.text,
                precondition_met=int(met.sum()) >= need,
                unmet_reason=precondition.unmet(seeds, need),
                missed_reason=f"measured {float(measured):.4g} against threshold {float(threshold):.4g}; "
                f"{int(ok.sum())}/{len(seeds)} seeds pass, {need} needed",
            )
        )

    ex = runs[runs["evaluation"] == "exactness"].pivot_table(
        index=["seed", "condition"], columns="metric", values="value", aggfunc="first"
    )
    rel_tol = float(cfg["max_relative_logit_change"])
    for condition in sorted({c for _, c in ex.index if c != "trained"}):
        sub = ex.xs(condition, level="condition")
        add(
            "function_preserved",
            condition,
            f"{condition} leaves the clean logits unchanged (max|dlogit| / max|logit| <= {rel_tol:g} on the test "
            f"images, so predictions can differ only at near-ties)",
            sub["rel_dlogit"] <= rel_tol,
            sub["rel_dlogit"].max(),
            "max relative logit change (worst seed)",
            rel_tol,
            _variant_precondition(pre, runs, condition),
        )

    inp = runs[runs["evaluation"] == "input_noise"]
    for model in ("scaled", "duplicated", "nuisance"):
        cond = _condition(runs, model, "input_noise")
        if cond is None:
            continue
        rel = inp[(inp["condition"] == cond) & (inp["metric"] == "rel_dlogit")].groupby("seed")["value"].max()
        add(
            "same_input_noise_curve",
            cond,
            f"{cond} has the trained model's input-noise error curve: at every noise scale its logits equal the "
            f"trained model's (max|dlogit| / max|logit| <= {rel_tol:g}), so predictions differ only at near-ties",
            rel <= rel_tol,
            rel.max(),
            "max relative logit change over noise scales (worst seed)",
            rel_tol,
            _variant_precondition(pre, runs, cond),
        )

    gap = float(cfg["min_error_gap"])
    errors = _curves(runs, "input_noise", "test_error")
    null = _condition(runs, "null-space perturbed", "input_noise")
    if null is not None:
        margin = ex.xs(null, level="condition")["flip_margin"]
        add(
            "null_space_keeps_accuracy",
            null,
            f"{null} has the trained model's clean test error: every test image whose prediction differs is a "
            f"near-tie (trained margin <= {rel_tol:g} x max|logit|)",
            margin <= rel_tol,
            margin.max(),
            "largest relative margin of a changed prediction (worst seed; 0: none)",
            rel_tol,
            _variant_precondition(pre, runs, null),
        )
        g = (errors[null] - errors["trained"]).groupby(level="seed").mean()
        add(
            "null_space_less_input_robust",
            null,
            f"{null} errs more under input noise (mean error gap over noise scales > {gap:g})",
            g > gap,
            g.mean(),
            "mean error gap over noise scales (mean over seeds)",
            gap,
            _variant_precondition(pre, runs, null),
        )

    def gap_claims(evaluation: str, metric: str, claim: str, statement, what: str, extra: str | None = None) -> None:
        """One row per manipulation that changes the representation: its mean gap over the trained
        network's curve (per seed, over the x grid) exceeds ``gap``."""
        curves = _curves(runs, evaluation, metric)
        for model in ("scaled", "nuisance"):
            cond = _condition(runs, model, evaluation)
            if cond is None or (extra is not None and extra not in pre):
                continue
            g = (curves[cond] - curves["trained"]).groupby(level="seed").mean()
            condition_pre = _variant_precondition(pre, runs, cond)
            add(
                claim,
                cond,
                statement(cond),
                g > gap,
                g.mean(),
                what,
                gap,
                condition_pre & pre[extra] if extra is not None else condition_pre,
            )

    gap_claims(
        "parameter_noise",
        "test_error",
        "less_parameter_robust",
        lambda cond: f"{cond} is less robust to parameter noise (mean error gap over noise scales > {gap:g})",
        "mean error gap over noise scales (mean over seeds)",
    )
    gap_claims(
        "transfer",
        "transfer_error",
        "hurts_transfer",
        lambda cond: (
            f"{cond} transfers worse (mean rotation-probe error gap over budgets > {gap:g}; {probe_label(probe)})"
        ),
        "mean transfer error gap over budgets (mean over seeds)",
        extra="probe",
    )
    return claims_frame(rows)


TITLE = "dissociation: claims of Braun, Grant & Saxe (ICML 2025)"


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    probe = params["provenance"]["runs"].get("config", {}).get("transfer_probe")
    return evaluate_claims(tables["runs"], params["claims"], probe=probe)
