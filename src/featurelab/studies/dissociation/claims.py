"""The claims of Braun, Grant & Saxe (ICML 2025), each declared once (:class:`featurelab.claims.Claim`)
and judged over seeds by :func:`featurelab.claims.judge_claims`.

Two kinds of rows. Checks of our code (``kind="check"``, interval ``exact``): a function-preserving
manipulation leaves the logits unchanged on the clean test images and under every input-noise scale;
they hold by construction, so every seed must be within float rounding. Claims of the paper
(``kind="claim"``, interval ``t``): per seed, the mean gap between two error curves of the same seed
(same data, same noise draws), a roughly symmetric number. The robustness and transfer claims compare
each manipulation with the duplicated network, the function-preserving manipulation the notebook's
panels do not separate from the trained one: a gap that the control shows too is probe or noise-draw
noise, not the dissociation. Thresholds and their sources: ``docs/dissociation.md``, "Claims and thresholds".

The networks a claim needs are found in the runs table by their role (a model under an evaluation); a
role the runs do not have keeps its rows, INCONCLUSIVE "not run: ...".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from featurelab.claims import Claim, NotRun, Precondition, Tables, all_of, judge_claims
from featurelab.studies.dissociation.analysis import probe_label

TITLE = "dissociation: claims of Braun, Grant & Saxe (ICML 2025)"

#: Why the checks hold in real arithmetic (the ``exact`` interval's reason).
EXACT_REASONS = {
    "scaled": "ReLU is positively homogeneous: relu(c z) / c = relu(z), so incoming x c, outgoing / c "
    "leaves every logit unchanged",
    "duplicated": "each copy of a neuron has the same activation and its outgoing weights are divided by the "
    "neuron's multiplicity, so the copies sum to the original contribution",
    "nuisance": "the added neurons' outgoing weights are zero, so they add nothing to the logits",
    "null-space perturbed": "the perturbation of W1 lies in the null space of the test images, so W1 x is "
    "unchanged for every clean test image x",
}
FLOAT_TOLERANCE = (
    "a float-rounding tolerance: float32 rounding measures 1e-7 to 8e-7, a real change 1e-2 or more "
    "(docs/dissociation.md)"
)
GAP_SOURCE = (
    "our reading (the paper and notebook draw curves, no number): 10 test images in 1,000 averaged over the "
    "grid, on top of the control's gap; the t-interval over seeds carries the seed noise"
)
#: The runs table as the claims read it: indexed by (evaluation, metric, condition).
KEYS = ["evaluation", "metric", "condition"]


@dataclass(frozen=True)
class Role:
    """A network of the design by what it is, not by its config-dependent name: ``model`` (legend name)
    entering the curves of ``evaluation``; ``label`` names its row when the runs do not have it."""

    label: str
    model: str
    evaluation: str

    def condition(self, names: Mapping[tuple[str, str], str]) -> str:
        """The variant id (e.g. ``duplicated_m1.2``) among ``names`` (:func:`variant_names`); NotRun when
        the runs have none."""
        if (self.model, self.evaluation) not in names:
            raise NotRun(f"no {self.label} network under {self.evaluation}: not in the config")
        return names[(self.model, self.evaluation)]

    def shown(self, names: Mapping[tuple[str, str], str]) -> str:
        """The row's condition: the variant id, or the role's label when the runs do not have it."""
        return names.get((self.model, self.evaluation), self.label)


def variant_names(runs: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(model, evaluation) -> variant id, for every network in ``runs`` (the long table)."""
    pairs = runs[["model", "evaluation", "condition"]].drop_duplicates(["model", "evaluation"])
    return {(str(m), str(e)): str(c) for m, e, c in pairs.itertuples(index=False)}


TRAINED_NOISE = Role("trained", "trained", "input_noise")
TRAINED_PARAMETER = Role("trained", "trained", "parameter_noise")
TRAINED_TRANSFER = Role("trained", "trained", "transfer")
SCALED_NOISE = Role("scaled", "scaled", "parameter_noise")
SCALED_TRANSFER = Role("scaled", "scaled", "transfer")
DUPLICATED_NOISE = Role("duplicated (noise panels)", "duplicated", "parameter_noise")
DUPLICATED_TRANSFER = Role("duplicated (transfer)", "duplicated", "transfer")
NUISANCE_NOISE = Role("nuisance (noise panels)", "nuisance", "parameter_noise")
NUISANCE_TRANSFER = Role("nuisance (transfer)", "nuisance", "transfer")
NULL_SPACE = Role("null-space perturbed", "null-space perturbed", "input_noise")

#: Every function-preserving variant, in the order of the exactness rows.
VARIANTS = (SCALED_NOISE, DUPLICATED_NOISE, DUPLICATED_TRANSFER, NUISANCE_NOISE, NUISANCE_TRANSFER, NULL_SPACE)
#: The variants whose input-noise curve is the trained network's by construction.
SAME_CURVE = (
    Role("scaled", "scaled", "input_noise"),
    Role("duplicated (noise panels)", "duplicated", "input_noise"),
    Role("nuisance (noise panels)", "nuisance", "input_noise"),
)


# ------------------------------------------------------------------------------------- per-seed values

Names = Mapping[tuple[str, str], str]


def indexed(runs: pd.DataFrame) -> pd.DataFrame:
    """The long runs table indexed by ``KEYS`` (one lookup per curve instead of a scan)."""
    return runs.set_index(KEYS).sort_index()


def _metric(runs: pd.DataFrame, evaluation: str, metric: str, condition: str) -> pd.DataFrame:
    """The rows of one metric of one network (``runs``: :func:`indexed`); NotRun when there are none."""
    key = (evaluation, metric, condition)
    if key not in runs.index:
        raise NotRun(f"{metric} of {condition} under {evaluation} is not in the runs: not in the config")
    return runs.loc[[key]]  # a list: a frame even when one row matches


def _exactness(runs: pd.DataFrame, condition: str, metric: str) -> pd.Series:
    """One exactness number per seed (``rel_dlogit``, ``flip_margin``, ...) of a variant."""
    return _metric(runs, "exactness", metric, condition).groupby("seed")["value"].first()


def _worst_noisy_logit_change(runs: pd.DataFrame, condition: str) -> pd.Series:
    """Per seed: the largest relative logit change against the trained network over the input-noise
    scales."""
    return _metric(runs, "input_noise", "rel_dlogit", condition).groupby("seed")["value"].max()


def mean_gap(runs: pd.DataFrame, evaluation: str, metric: str, variant: str, reference: str) -> pd.Series:
    """Per seed: the mean over the x grid of the variant's curve minus the reference's (the same seed's
    networks under the same noise draws or probe folds)."""
    a = _metric(runs, evaluation, metric, variant).groupby(["seed", "x"])["value"].first()
    b = _metric(runs, evaluation, metric, reference).groupby(["seed", "x"])["value"].first()
    return (a - b).groupby(level="seed").mean()


def _of_runs(statistic: Callable[..., pd.Series], names: Names, *roles: Role) -> Callable[[Tables], pd.Series]:
    """``statistic(runs, *conditions)`` as a claim's statistic: the roles' variant ids are looked up when
    it is judged, so a role the runs do not have is NotRun there."""
    return lambda tables: statistic(tables["runs"], *(role.condition(names) for role in roles))


# --------------------------------------------------------------------------------------- preconditions


def trained(cfg: Mapping[str, Any]) -> Precondition:
    """The network learned MNIST: every claim is about the paper's task-optimised network (the notebook
    ran its trainer with zero epochs)."""
    limit = float(cfg["trained_max_test_error"])

    def met(tables: Tables) -> pd.Series:
        curve = _metric(tables["runs"], "training", "test_error", "trained")
        return curve.sort_values("x").groupby("seed")["value"].last() <= limit

    return Precondition(f"the network trained (final test error <= {limit:g}; chance 0.9)", met)


def nuisance_active(role: Role, names: Names) -> Precondition:
    """The nuisance neurons are active on some test image (dead ones change no representation)."""
    return Precondition(
        f"the {role.label} neurons are active on some test image (fraction > 0)",
        lambda tables: _exactness(tables["runs"], role.condition(names), "nuisance_active_fraction") > 0,
    )


def null_space_moved(names: Names) -> Precondition:
    """The null-space perturbation moved W1 (an empty null space leaves it unchanged)."""
    return Precondition(
        "the null-space perturbation moved W1 (max |dW1| > 0)",
        lambda tables: _exactness(tables["runs"], NULL_SPACE.condition(names), "max_abs_dw1") > 0,
    )


def probe_learns(cfg: Mapping[str, Any], names: Names) -> Precondition:
    """The rotation probe learns on the trained network: differences between networks mean nothing
    when the probe learns nothing."""
    limit = float(cfg["probe_max_error"])

    def met(tables: Tables) -> pd.Series:
        curve = _metric(tables["runs"], "transfer", "transfer_error", TRAINED_TRANSFER.condition(names))
        return curve[curve["x"] == curve["x"].max()].groupby("seed")["value"].first() <= limit

    return Precondition(
        f"the probe learns on the trained network (error at the largest budget <= {limit:g}; chance 0.75)", met
    )


def _non_vacuous(role: Role, names: Names) -> list[Precondition]:
    """What shows that the role's manipulation did something."""
    if role.model == "nuisance":
        return [nuisance_active(role, names)]
    if role.model == "null-space perturbed":
        return [null_space_moved(names)]
    return []


def _precondition(parts: list[Precondition]) -> Precondition | None:
    return all_of(*parts) if parts else None


# ----------------------------------------------------------------------------------------------- claims


def function_preserved(role: Role, names: Names, cfg: Mapping[str, Any]) -> Claim:
    return Claim(
        claim="function_preserved",
        kind="check",
        condition=role.shown(names),
        statement=f"{role.shown(names)} leaves the clean logits unchanged (max|dlogit| / max|logit| on the test "
        "images, worst seed)",
        side="<=",
        threshold=float(cfg["max_relative_logit_change"]),
        source=f"`max_relative_logit_change`: {FLOAT_TOLERANCE}.",
        statistic=_of_runs(lambda runs, c: _exactness(runs, c, "rel_dlogit"), names, role),
        interval="exact",
        exact_reason=EXACT_REASONS[role.model],
        precondition=_precondition(_non_vacuous(role, names)),
    )


def same_input_noise_curve(role: Role, names: Names, cfg: Mapping[str, Any]) -> Claim:
    return Claim(
        claim="same_input_noise_curve",
        kind="check",
        condition=role.shown(names),
        statement=f"{role.shown(names)} has the trained network's input-noise curve: at every noise scale its "
        "logits equal the trained network's on the same noisy images (max|dlogit| / max|logit|, worst seed and "
        "scale), so predictions can differ only at near-ties",
        side="<=",
        threshold=float(cfg["max_relative_logit_change"]),
        source=f"`max_relative_logit_change`: {FLOAT_TOLERANCE}.",
        statistic=_of_runs(_worst_noisy_logit_change, names, role),
        interval="exact",
        exact_reason=EXACT_REASONS[role.model] + ", for any input image, noisy ones included",
        precondition=_precondition(_non_vacuous(role, names)),
    )


def null_space_keeps_accuracy(names: Names, cfg: Mapping[str, Any]) -> Claim:
    return Claim(
        claim="null_space_keeps_accuracy",
        kind="check",
        condition=NULL_SPACE.shown(names),
        statement=f"{NULL_SPACE.shown(names)} has the trained network's clean test error: every test image whose "
        "prediction differs is a near-tie (the trained network's relative margin there, worst seed; 0: none "
        "differs)",
        side="<=",
        threshold=float(cfg["max_relative_logit_change"]),
        source=f"`max_relative_logit_change`: {FLOAT_TOLERANCE}.",
        statistic=_of_runs(lambda runs, c: _exactness(runs, c, "flip_margin"), names, NULL_SPACE),
        interval="exact",
        exact_reason=EXACT_REASONS["null-space perturbed"],
        precondition=_precondition(_non_vacuous(NULL_SPACE, names)),
    )


def null_space_less_input_robust(names: Names, cfg: Mapping[str, Any]) -> Claim:
    gap = float(cfg["min_error_gap"])
    return Claim(
        claim="null_space_less_input_robust",
        statement=f"{NULL_SPACE.shown(names)} errs more under input noise than the trained network (mean error "
        f"gap over the noise scales >= {gap:g})",
        condition=NULL_SPACE.shown(names),
        side=">=",
        threshold=gap,
        source=f"`min_error_gap`: {GAP_SOURCE}. The control is the trained network itself: the duplicated "
        "network's input-noise curve is the trained one's by construction (check same_input_noise_curve).",
        statistic=_of_runs(
            lambda runs, a, b: mean_gap(runs, "input_noise", "test_error", a, b), names, NULL_SPACE, TRAINED_NOISE
        ),
        precondition=all_of(trained(cfg), null_space_moved(names)),
    )


def _worse_than_control(
    claim: str,
    variant: Role,
    control: Role,
    evaluation: str,
    metric: str,
    what: str,
    names: Names,
    cfg: Mapping[str, Any],
) -> Claim:
    """A variant's mean error gap to the trained network under ``evaluation``, over the duplicated-units
    control's gap in the same seed, at least ``min_error_gap``."""
    gap = float(cfg["min_error_gap"])
    return Claim(
        claim=claim,
        statement=f"{variant.shown(names)} {what} than the duplicated control {control.shown(names)}: its mean "
        f"error gap to the trained network exceeds the control's by >= {gap:g}",
        condition=variant.shown(names),
        side=">=",
        threshold=gap,
        source=f"`min_error_gap`: {GAP_SOURCE}.",
        statistic=_of_runs(lambda runs, a, b: mean_gap(runs, evaluation, metric, a, b), names, variant, control),
        precondition=all_of(trained(cfg), *_non_vacuous(variant, names)),
    )


def less_parameter_robust(variant: Role, names: Names, cfg: Mapping[str, Any]) -> Claim:
    return _worse_than_control(
        "less_parameter_robust",
        variant,
        DUPLICATED_NOISE,
        "parameter_noise",
        "test_error",
        "is less robust to parameter noise (over the noise scales)",
        names,
        cfg,
    )


def hurts_transfer(variant: Role, names: Names, cfg: Mapping[str, Any], probe: str) -> Claim:
    base = _worse_than_control(
        "hurts_transfer",
        variant,
        DUPLICATED_TRANSFER,
        "transfer",
        "transfer_error",
        f"transfers worse (rotation probe, {probe}, over the sample budgets)",
        names,
        cfg,
    )
    return replace(base, precondition=all_of(base.precondition, probe_learns(cfg, names)))


def _distinct(roles: tuple[Role, ...], names: Names) -> list[Role]:
    """``roles`` less those whose variant another already names (one network can serve two panels)."""
    out, seen = [], set()
    for role in roles:
        if role.shown(names) not in seen:
            seen.add(role.shown(names))
            out.append(role)
    return out


def declare(names: Names, cfg: Mapping[str, Any], probe: str = "probe not recorded") -> list[Claim]:
    """Every row of the claims table, in its order; ``names`` (:func:`variant_names`) names the rows'
    variants."""
    return [
        *(function_preserved(role, names, cfg) for role in _distinct(VARIANTS, names)),
        *(same_input_noise_curve(role, names, cfg) for role in SAME_CURVE),
        null_space_keeps_accuracy(names, cfg),
        null_space_less_input_robust(names, cfg),
        *(less_parameter_robust(role, names, cfg) for role in (SCALED_NOISE, NUISANCE_NOISE)),
        *(hurts_transfer(role, names, cfg, probe) for role in (SCALED_TRANSFER, NUISANCE_TRANSFER)),
    ]


def evaluate_claims(runs: pd.DataFrame, cfg: Mapping[str, Any], probe: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The claims table of ``runs`` (the aggregated long table) under the ``claims`` config ``cfg``;
    ``probe`` (the transfer table's provenance record) names the probe in the transfer claims."""
    seeds = sorted(runs["seed"].unique())
    claims = declare(variant_names(runs), cfg, probe_label(probe))
    return judge_claims(claims, {"runs": indexed(runs)}, seeds, float(cfg["min_fraction_of_seeds"]))


def evaluate(tables: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The claims table from the rule's tables (its named inputs) and params (scripts/claims.py)."""
    probe = params.get("provenance", {}).get("runs", {}).get("config", {}).get("transfer_probe")
    return evaluate_claims(tables["runs"], params["claims"], probe=probe)
