"""The dissociation study's claims on synthetic runs tables whose truth is set by construction: every
row passes where the paper's effect is there and fails where it is refuted, the robustness and transfer
claims are judged against the duplicated control, preconditions fail their rows, and a network the runs
do not have keeps its rows as "not run". Pure pandas, no training."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pytest

from featurelab.studies.dissociation.claims import evaluate, evaluate_claims
from tests.helpers import assert_claims_table, perturbed, study_claims_config

SEEDS = [0, 1, 2, 3, 4]
CFG = study_claims_config("dissociation")

#: condition -> (model, the curves it enters), as the default config names them.
NETWORKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "trained": ("trained", ("input_noise", "parameter_noise", "transfer")),
    "scaled_c20": ("scaled", ("input_noise", "parameter_noise", "transfer")),
    "duplicated_m2": ("duplicated", ("input_noise", "parameter_noise")),
    "duplicated_m1.2": ("duplicated", ("transfer",)),
    "nuisance_n1024": ("nuisance", ("input_noise", "parameter_noise")),
    "nuisance_n128": ("nuisance", ("transfer",)),
    "null_space_s0.1": ("null-space perturbed", ("input_noise",)),
}
#: The trained network's curve per evaluation (x grid -> error).
BASE = {
    "input_noise": {0.1: 0.09, 0.3: 0.12, 1.0: 0.3, 3.0: 0.7, 10.0: 0.88},
    "parameter_noise": {1e-4: 0.09, 1e-3: 0.1, 1e-2: 0.2, 1e-1: 0.8, 1.0: 0.9},
    "transfer": {100: 0.3, 300: 0.26, 1000: 0.22},
}
#: (evaluation, condition) -> the variant's mean gap over the grid to the trained curve: the paper's
#: effect (numbers near the default run's); 0 where not listed.
EFFECT = {
    ("input_noise", "null_space_s0.1"): 0.08,
    ("parameter_noise", "scaled_c20"): 0.12,
    ("parameter_noise", "nuisance_n1024"): 0.15,
    ("parameter_noise", "duplicated_m2"): 0.005,
    ("transfer", "scaled_c20"): 0.16,
    ("transfer", "nuisance_n128"): 0.44,
    ("transfer", "duplicated_m1.2"): 0.01,
}
EXACT_ROWS = ("function_preserved", "same_input_noise_curve", "null_space_keeps_accuracy")
GAP_ROWS = {  # (claim, condition) -> the curve its gap is taken on
    ("null_space_less_input_robust", "null_space_s0.1"): "input_noise",
    ("less_parameter_robust", "scaled_c20"): "parameter_noise",
    ("less_parameter_robust", "nuisance_n1024"): "parameter_noise",
    ("hurts_transfer", "scaled_c20"): "transfer",
    ("hurts_transfer", "nuisance_n128"): "transfer",
}
CONTROL = {"parameter_noise": "duplicated_m2", "transfer": "duplicated_m1.2"}


def _per_seed(value: float | list[float], seeds: list[int]) -> list[float]:
    return list(value) if isinstance(value, list | tuple) else [float(value)] * len(seeds)


def runs_table(
    gaps: Mapping[tuple[str, str], float | list[float]] | None = None,
    exactness: Mapping[tuple[str, str], float | list[float]] | None = None,
    noisy_logits: Mapping[str, float] | None = None,
    final_error: float | list[float] = 0.09,
    sd: float = 0.002,
    seeds: list[int] = SEEDS,
    networks: Mapping[str, tuple[str, tuple[str, ...]]] = NETWORKS,
    drop: Iterable[str] = (),
) -> pd.DataFrame:
    """The aggregated long table of a world whose truth is set here. ``gaps`` (evaluation, condition) ->
    the variant's gap to the trained curve (one number or one per seed), over ``EFFECT``; each seed adds
    a N(0, sd) offset per curve and N(0, sd/2) per point. ``exactness`` (metric, condition) -> value per
    seed, over float-rounding defaults; ``noisy_logits`` condition -> the largest relative logit change
    under input noise (in seed 0, at one scale). ``drop``: conditions the runs do not have."""
    gaps = {**EFFECT, **(gaps or {})}
    rng = np.random.default_rng(0)
    rows: list[dict] = []

    def add(condition: str, seed: int, evaluation: str, x: float, metric: str, value: float) -> None:
        model = networks[condition][0] if condition in networks else condition
        rows.append(dict(condition=condition, model=model, seed=seed, evaluation=evaluation, x=x, metric=metric,
                         value=value))  # fmt: skip

    for i, seed in enumerate(seeds):
        final = _per_seed(final_error, seeds)[i]
        for epoch, error in enumerate((0.88, 0.3, final)):
            add("trained", seed, "training", float(epoch), "test_error", error)
        for condition, (model, evaluations) in networks.items():
            if condition in drop:
                continue
            for metric, value in _exact_defaults(condition, model).items():
                value = (exactness or {}).get((metric, condition), value)
                add(condition, seed, "exactness", 0.0, metric, _per_seed(value, seeds)[i])
            for evaluation in evaluations:
                gap = _per_seed(gaps.get((evaluation, condition), 0.0), seeds)[i]
                offset = rng.normal(0, sd) if condition != "trained" else 0.0
                metric = "transfer_error" if evaluation == "transfer" else "test_error"
                for j, (x, base) in enumerate(BASE[evaluation].items()):
                    jitter = rng.normal(0, sd / 2) if condition != "trained" else 0.0
                    add(condition, seed, evaluation, x, metric, base + gap + offset + jitter)
                    if evaluation == "input_noise" and condition != "trained":
                        changed = (noisy_logits or {}).get(condition, 0.3 if model == "null-space perturbed" else 4e-7)
                        add(condition, seed, evaluation, x, "rel_dlogit", changed if (i, j) == (0, 2) else 4e-7)
    frame = pd.DataFrame(rows)
    frame.insert(0, "study", "dissociation")
    return frame


def _exact_defaults(condition: str, model: str) -> dict[str, float]:
    """Exactness numbers of a correct manipulation: float rounding, and what shows it did something."""
    if condition == "trained":
        return {"rel_dlogit": 0.0}
    out = {"rel_dlogit": 3e-7}
    if model == "nuisance":
        out["nuisance_active_fraction"] = 0.9
    if model == "null-space perturbed":
        out.update(flip_margin=0.0, max_abs_dw1=0.45)
    return out


def claims(runs: pd.DataFrame, **cfg) -> pd.DataFrame:
    table = evaluate_claims(runs, {**CFG, **cfg})
    assert_claims_table(table)
    return table


def verdicts(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    return dict(zip(zip(table["claim"], table["condition"]), table["verdict"]))


def others_pass(table: pd.DataFrame, rows: Iterable[tuple[str, str]]) -> bool:
    skipped = set(rows)
    return all(v == "PASS" for key, v in verdicts(table).items() if key not in skipped)


# --------------------------------------------------------------------------------------- both ways


def test_every_row_passes_where_the_papers_effect_is_there() -> None:
    table = claims(runs_table())
    assert len(table) == 15
    assert (table["verdict"] == "PASS").all(), table[["claim", "condition", "estimate", "ci_low", "reason"]]
    checks = table[table["claim"].isin(EXACT_ROWS)]
    assert (checks["kind"] == "check").all() and (checks["interval"] == "exact").all()
    assert checks["source"].str.contains("Exact: ").all()
    gaps = table[~table["claim"].isin(EXACT_ROWS)]
    assert (gaps["kind"] == "claim").all() and (gaps["interval"] == "t").all()
    assert set(zip(gaps["claim"], gaps["condition"])) == set(GAP_ROWS)
    assert (gaps["side"] == ">=").all() and (gaps["threshold"] == CFG["min_error_gap"]).all()


EXACT_CASES = [
    *[("function_preserved", c, {"exactness": {("rel_dlogit", c): [3e-7, 3e-7, 1e-2, 3e-7, 3e-7]}}) for c in NETWORKS
      if c != "trained"],
    *[("same_input_noise_curve", c, {"noisy_logits": {c: 1e-2}}) for c in ("scaled_c20", "duplicated_m2",
                                                                            "nuisance_n1024")],
    ("null_space_keeps_accuracy", "null_space_s0.1", {"exactness": {("flip_margin", "null_space_s0.1"): 0.05}}),
]  # fmt: skip


@pytest.mark.parametrize("claim, condition, broken", EXACT_CASES, ids=[f"{c}-{n}" for c, n, _ in EXACT_CASES])
def test_a_check_fails_when_one_seed_breaks_the_function(claim: str, condition: str, broken: dict) -> None:
    """A manipulation that moves the logits by 1 % (in one seed, at one noise scale) fails its check;
    every other row still passes."""
    table = claims(runs_table(**broken))
    assert verdicts(table)[(claim, condition)] == "FAIL"
    assert others_pass(table, [(claim, condition)])


REFUTED = {
    ("null_space_less_input_robust", "null_space_s0.1"): 0.0,  # as input-robust as the trained network
    ("less_parameter_robust", "scaled_c20"): 0.005,  # as parameter-robust as the control
    ("less_parameter_robust", "nuisance_n1024"): -0.05,  # more robust than the control
    ("hurts_transfer", "scaled_c20"): 0.01,  # transfers as the control does
    ("hurts_transfer", "nuisance_n128"): -0.05,  # transfers better than the control
}


@pytest.mark.parametrize("row", list(REFUTED), ids=["-".join(r) for r in REFUTED])
def test_a_gap_claim_fails_where_the_effect_is_refuted(row: tuple[str, str]) -> None:
    table = claims(runs_table(gaps={(GAP_ROWS[row], row[1]): REFUTED[row]}))
    assert verdicts(table)[row] == "FAIL"
    assert others_pass(table, [row])


CONTROLLED = [row for row, evaluation in GAP_ROWS.items() if evaluation in CONTROL]


@pytest.mark.parametrize("row", CONTROLLED, ids=["-".join(r) for r in CONTROLLED])
def test_robustness_and_transfer_are_judged_against_the_duplicated_control(row: tuple[str, str]) -> None:
    """A variant 0.06 worse than the trained network is no evidence when the duplicated control is 0.06
    worse too (FAIL); 0.09 against the control's 0.06 is (PASS)."""
    evaluation = GAP_ROWS[row]
    control = (evaluation, CONTROL[evaluation])
    as_bad = claims(runs_table(gaps={(evaluation, row[1]): 0.06, control: 0.06}))
    assert verdicts(as_bad)[row] == "FAIL"
    worse = claims(runs_table(gaps={(evaluation, row[1]): 0.09, control: 0.06}))
    assert verdicts(worse)[row] == "PASS"
    estimate = worse.set_index(["claim", "condition"]).loc[row, "estimate"]
    assert estimate == pytest.approx(0.03, abs=0.01)


def test_a_gap_near_its_threshold_is_inconclusive_and_says_how_many_seeds() -> None:
    """Three seeds with gaps 0, 0.02, 0.04 over the control: mean 0.02, sd 0.02; t(0.95, 2) = 2.92 puts
    the lower bound at -0.014, below 0.01, and the upper at 0.054: neither side at 95 %."""
    seeds = [0, 1, 2]
    runs = runs_table(gaps={("transfer", "scaled_c20"): [0.01, 0.03, 0.05]}, sd=0.0, seeds=seeds)
    row = claims(runs).set_index(["claim", "condition"]).loc[("hurts_transfer", "scaled_c20")]
    assert row.verdict == "INCONCLUSIVE"
    assert row.estimate == pytest.approx(0.02) and row.ci_low < 0.01 < row.ci_high
    assert 5 < row.seeds_needed <= 50 and "seeds would settle it" in row.reason


def test_one_seed_gives_no_interval_but_checks_still_hold() -> None:
    """A one-seed run (a tiny config): no claim can be decided, every check can."""
    table = claims(runs_table(seeds=[0]))
    paper = table[table["kind"] == "claim"]
    assert (paper["verdict"] == "INCONCLUSIVE").all() and (paper["reason"] == "one seed: no interval").all()
    assert (table.loc[table["kind"] == "check", "verdict"] == "PASS").all()


# --------------------------------------------------------------------------------------- preconditions


def test_an_untrained_network_fails_every_claim_and_no_check() -> None:
    """The notebook's run (zero epochs): no claim about the task-optimised network may pass; the checks
    of our manipulations hold on any network."""
    table = claims(runs_table(final_error=0.9))
    paper = table[table["kind"] == "claim"]
    assert (paper["verdict"] == "FAIL").all() and not paper["precondition_met"].any()
    assert paper["reason"].str.startswith("precondition not met: the network trained").all()
    assert (table.loc[table["kind"] == "check", "verdict"] == "PASS").all()


def test_only_the_seeds_that_trained_are_evidence() -> None:
    """One seed of five did not train (4 of 5 meet the precondition, 0.8 needed): the claims are judged
    on the other four."""
    table = claims(runs_table(final_error=[0.09, 0.09, 0.09, 0.09, 0.9]))
    paper = table[table["kind"] == "claim"]
    assert (paper["verdict"] == "PASS").all() and (paper["n_seeds"] == 4).all()


def test_dead_nuisance_neurons_fail_every_nuisance_row() -> None:
    dead = {("nuisance_active_fraction", c): 0.0 for c in ("nuisance_n1024", "nuisance_n128")}
    table = claims(runs_table(exactness=dead))
    nuisance = table[table["condition"].str.startswith("nuisance")]
    assert len(nuisance) == 5 and (nuisance["verdict"] == "FAIL").all()
    assert nuisance["reason"].str.contains("neurons are active on some test image").all()
    assert others_pass(table, zip(nuisance["claim"], nuisance["condition"]))


def test_an_unmoved_null_space_fails_every_null_space_row() -> None:
    table = claims(runs_table(exactness={("max_abs_dw1", "null_space_s0.1"): 0.0}))
    null = table[table["condition"] == "null_space_s0.1"]
    assert len(null) == 3 and (null["verdict"] == "FAIL").all()
    assert null["reason"].str.contains("moved W1").all()
    assert others_pass(table, zip(null["claim"], null["condition"]))


def test_a_probe_that_learns_nothing_fails_the_transfer_claims() -> None:
    """The trained network's transfer error at the largest budget at chance (0.75 > 0.65)."""
    runs = runs_table()
    last = (runs["evaluation"] == "transfer") & (runs["x"] == max(BASE["transfer"]))
    runs.loc[last, "value"] += 0.75 - BASE["transfer"][1000]
    table = claims(runs)
    transfer = table[table["claim"] == "hurts_transfer"]
    assert (transfer["verdict"] == "FAIL").all() and transfer["reason"].str.contains("the probe learns").all()
    assert others_pass(table, zip(transfer["claim"], transfer["condition"]))


# ---------------------------------------------------------------------------------------------- not run


NOT_RUN = {
    "nuisance_n128": [("function_preserved", "nuisance (transfer)"), ("hurts_transfer", "nuisance (transfer)")],
    "duplicated_m1.2": [
        ("function_preserved", "duplicated (transfer)"),
        ("hurts_transfer", "scaled_c20"),
        ("hurts_transfer", "nuisance_n128"),
    ],
    "null_space_s0.1": [
        ("function_preserved", "null-space perturbed"),
        ("null_space_keeps_accuracy", "null-space perturbed"),
        ("null_space_less_input_robust", "null-space perturbed"),
    ],
}


@pytest.mark.parametrize("dropped", list(NOT_RUN))
def test_a_network_not_in_the_runs_keeps_its_rows_as_not_run(dropped: str) -> None:
    table = claims(runs_table(drop=[dropped]))
    assert len(table) == 15
    missing = table.set_index(["claim", "condition"]).loc[NOT_RUN[dropped]]
    assert (missing["verdict"] == "INCONCLUSIVE").all()
    assert missing["reason"].str.startswith("not run: ").all()
    assert missing["reason"].str.contains("not in the config").all()
    assert others_pass(table, NOT_RUN[dropped])


def test_one_network_serving_both_panels_has_one_exactness_row() -> None:
    """duplicate_multiplier noise = transfer: one duplicated network in every panel."""
    networks = {k: v for k, v in NETWORKS.items() if k != "duplicated_m1.2"}
    networks["duplicated_m2"] = ("duplicated", ("input_noise", "parameter_noise", "transfer"))
    effect = {("transfer", "duplicated_m2"): EFFECT[("transfer", "duplicated_m1.2")]}
    table = claims(runs_table(gaps=effect, networks=networks))
    assert len(table) == 14 and (table["verdict"] == "PASS").all()
    assert (table["claim"] + table["condition"]).is_unique


# ------------------------------------------------------------------------------------------ entry point


def test_evaluate_reads_the_rule_tables_and_names_the_probe() -> None:
    probe = {"name": "repo", "learning_rate": 0.2, "steps": 200, "folds": 10}
    params = {"claims": CFG, "provenance": {"runs": {"config": {"transfer_probe": probe}}}}
    table = evaluate({"runs": runs_table()}, params)
    assert_claims_table(table)
    transfer = table[table["claim"] == "hurts_transfer"]
    assert transfer["statement"].str.contains("paper's probe: GD lr 0.2, 200 steps", regex=False).all()


def test_verdicts_do_not_follow_the_last_bits() -> None:
    runs = runs_table()
    reference = claims(runs)[["claim", "condition", "verdict", "precondition_met", "n_seeds"]]
    for draw in range(3):
        other = claims(perturbed(runs, ["value"], np.random.default_rng(draw)))
        pd.testing.assert_frame_equal(other[reference.columns], reference)
