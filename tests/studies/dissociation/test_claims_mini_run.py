"""The dissociation study's claims on a mini run trained in process (real networks, seconds): a table the
framework accepts, float32 rounding three decades below the checks' tolerance, an untrained network makes
no claim pass, and verdicts that the last bits (thread count, 1e-6 input jitter) cannot change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from featurelab.mnist import load_idx_subset, to_arrays
from featurelab.studies.dissociation import evaluate as ad
from featurelab.studies.dissociation import train as sd
from featurelab.studies.dissociation.claims import evaluate_claims
from tests.helpers import MNIST_DATA, assert_claims_table, default_config

EXACT = ["function_preserved", "same_input_noise_curve", "null_space_keeps_accuracy"]


@pytest.fixture(scope="module")
def mini_data():
    """2,000 real MNIST images to train on and 500 to evaluate (fewer than 784, so a null space exists)."""
    images, labels = load_idx_subset(MNIST_DATA, "t10k")
    x, y = to_arrays(images[:2500], labels[:2500])
    return {"x_train": x[:2000], "y_train": y[:2000], "x_test": x[2000:], "y_test": y[2000:]}


def mini_config() -> dict:
    """The default config's dissociation section at a seconds scale (widths 64, 5 noise scales, 2 budgets)."""
    cfg = default_config()["dissociation"]
    cfg["model"]["hidden_widths"] = [64, 64]
    cfg["training"].update(batch_size=32, epochs=10)  # test error ~0.13
    cfg["manipulations"].update(
        duplicate_multiplier={"noise": 2, "transfer": 1.5}, nuisance_units={"noise": 32, "transfer": 16}
    )
    cfg["evaluation"] = {
        "input_noise": {"min": 0.1, "max": 10.0, "n": 5},
        "parameter_noise": {"min": 1e-3, "max": 1.0, "n": 5},
    }
    cfg["transfer"].update(sample_fractions=[0.5, 1.0], folds=5)
    cfg["claims"]["min_fraction_of_seeds"] = 0.5
    return cfg


def mini_runs(data, cfg, seeds=(0, 1), threads=1, jitter=0.0, trained=None) -> tuple[pd.DataFrame, dict]:
    """Train, evaluate and transfer in-process, as the workflow's jobs do; (long table, {seed: (training
    columns, state)}). ``trained`` reuses earlier training; ``jitter``: the evaluation images multiplied by
    (1 + jitter * N(0, 1)), a last-bits change of the inputs."""
    frames, done = [], {}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for seed in seeds:
            cols, state = trained[seed] if trained else sd.train_run(seed, data, cfg["model"], cfg["training"], "cpu")
            done[seed] = (cols, state)
            x = data["x_test"]
            if jitter:
                x = x * (1 + jitter * np.random.default_rng(seed).standard_normal(x.shape)).astype(np.float32)
            evaluation = {**data, "x_test": x}
            frames += [
                pd.DataFrame(cols),
                pd.DataFrame(sd.evaluate_run(seed, state, evaluation, cfg, "cpu")),
                pd.DataFrame(sd.transfer_run(seed, state, evaluation, cfg, "cpu")),
            ]
    finally:
        torch.set_num_threads(previous)
    return pd.concat(frames, ignore_index=True), done


def mini_claims(runs: pd.DataFrame, cfg) -> pd.DataFrame:
    table = evaluate_claims(runs, cfg["claims"], probe=ad.probe_settings(cfg["transfer"]))
    assert_claims_table(table)
    return table


@pytest.fixture(scope="module")
def mini_trained(mini_data):
    """(runs, trained states) of the mini config, two seeds."""
    return mini_runs(mini_data, mini_config())


@pytest.fixture(scope="module")
def mini_trained_claims(mini_trained):
    return mini_claims(mini_trained[0], mini_config())


def test_a_mini_run_gives_every_row_and_checks_at_float_rounding(mini_trained_claims):
    claims = mini_trained_claims
    assert len(claims) == 15
    assert set(claims["claim"]) == {*EXACT, "null_space_less_input_robust", "less_parameter_robust", "hurts_transfer"}
    assert claims["precondition_met"].all(), claims[["claim", "condition", "reason"]]  # the mini network trained
    exact = claims[claims["claim"].isin(EXACT)]
    assert (exact["kind"] == "check").all() and (exact["verdict"] == "PASS").all(), exact
    assert (exact["estimate"] < 1e-5).all()  # float32 rounding, three decades below the threshold
    paper = claims[~claims["claim"].isin(EXACT)]
    assert (paper["kind"] == "claim").all() and (paper["n_seeds"] == 2).all()


def test_untrained_network_makes_no_claim_pass(mini_data):
    """The notebook's run (epochs 0): every claim is about the task-optimised network, so each fails on its
    precondition; the checks of the manipulations still hold on this network."""
    cfg = mini_config()
    cfg["training"]["epochs"] = 0
    claims = mini_claims(mini_runs(mini_data, cfg)[0], cfg)
    paper = claims[claims["kind"] == "claim"]
    assert (paper["verdict"] == "FAIL").all(), paper[["claim", "condition", "verdict"]]
    assert paper["reason"].str.startswith("precondition not met: the network trained").all()
    assert (claims.loc[claims["kind"] == "check", "estimate"] < 1e-5).all()


@pytest.mark.parametrize("change", ["threads", "jitter"])
def test_verdicts_do_not_depend_on_the_last_bits(mini_data, mini_trained, mini_trained_claims, change):
    """Evaluation at another thread count (other summation orders in the matrix products) or on images
    changed at the 1e-6 level: every verdict, precondition and seed count stays the same. (The networks
    are the same ones; training at two threads would cost a minute on a shared 2-core machine.)

    The transfer claims keep their preconditions and seeds but not necessarily their verdicts: the
    paper's fixed-step probe is not smooth in its inputs in float32 (docs/dissociation.md, "Transfer"),
    and at this scale a 1e-6 jitter moves a seed's transfer gap by up to 0.04."""
    cfg = mini_config()
    if change == "threads":
        runs, _ = mini_runs(mini_data, cfg, threads=2, trained=mini_trained[1])
    else:
        runs, _ = mini_runs(mini_data, cfg, jitter=1e-6, trained=mini_trained[1])
    other = mini_claims(runs, cfg)
    cols = ["claim", "condition", "precondition_met", "n_seeds"]
    pd.testing.assert_frame_equal(other[cols], mini_trained_claims[cols])
    smooth = other["claim"] != "hurts_transfer"
    assert other.loc[smooth, "verdict"].tolist() == mini_trained_claims.loc[smooth, "verdict"].tolist()
    assert (other.loc[other["claim"].isin(EXACT), "estimate"] < 1e-5).all()
