"""The dissociation study's training run (deterministic, learning) and the variants the notebook builds."""

from __future__ import annotations

import pandas as pd
import torch

from featurelab.studies.dissociation import train as sd
from tests.helpers import default_config, tiny


def tiny_config() -> dict:
    return {**default_config()["dissociation"], **tiny()["dissociation"]}


def test_training_is_deterministic_and_learns(mnist_test):
    x, y = mnist_test
    data = {
        "x_train": x.numpy()[:200],
        "y_train": y.numpy()[:200],
        "x_test": x.numpy()[200:],
        "y_test": y.numpy()[200:],
    }
    cfg = tiny_config()
    training = {**cfg["training"], "epochs": 3, "batch_size": 50}
    cols_a, state_a = sd.train_run(0, data, cfg["model"], training, "cpu")
    cols_b, state_b = sd.train_run(0, data, cfg["model"], training, "cpu")
    assert cols_a == cols_b
    for k in state_a:
        assert torch.equal(state_a[k], state_b[k])
    frame = pd.DataFrame(cols_a)
    loss = frame[frame.metric == "train_loss"].sort_values("x")["value"].to_numpy()
    assert loss[-1] < loss[0]
    assert list(frame.columns) == list(sd.RESULT_COLUMNS)


def test_variants_follow_the_notebook():
    cfg = default_config()["dissociation"]
    by_name = {v.condition: v.evaluations for v in sd.variants(cfg)}
    assert by_name["duplicated_m2"] == ("input_noise", "parameter_noise")
    assert by_name["duplicated_m1.2"] == ("transfer",)
    assert by_name["nuisance_n1024"] == ("input_noise", "parameter_noise")
    assert by_name["nuisance_n128"] == ("transfer",)
    assert by_name["null_space_s0.1"] == ("input_noise",)
    assert set(by_name["trained"]) == set(by_name["scaled_c20"]) == {"input_noise", "parameter_noise", "transfer"}
