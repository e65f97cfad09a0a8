"""The learnability study's training: steps to the loss threshold, deterministic and batch-independent
families, the threshold rows of the runs table."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_steps_to_threshold_known_answer():
    from featurelab.studies.learnability.train import running_mean, steps_to_threshold

    losses = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(running_mean(losses, 2)[:, 0], [1, 1, 0.5, 0, 0])
    steps, reached = steps_to_threshold(losses, 2, 0.1)
    assert steps.tolist() == [4, 5] and reached.tolist() == [True, False]
    steps, _ = steps_to_threshold(np.zeros((5, 1)), 3, 0.1)
    assert steps.tolist() == [3]  # a full window is needed


def test_train_family_deterministic_and_batch_independent():
    """Same config + seed = identical metrics; a task's numbers do not depend on its family's other tasks."""
    from featurelab.studies.learnability.train import train_family

    tr = {
        "learning_rate": 1e-2,
        "batch_size": 2,
        "steps_per_epoch": 30,
        "eval_every": 10,
        "n_eval": 32,
        "n_attribution": 16,
    }
    both = {"epochs": 1, "tasks": [{"generator": "constant"}, {"generator": "distractors", "k": 6}]}
    alone = {"epochs": 1, "tasks": [{"generator": "constant"}]}
    a, _, la = train_family("f", both, 3, {"hidden": 8}, tr, "cpu")
    b, _, lb = train_family("f", both, 3, {"hidden": 8}, tr, "cpu")
    c, _, lc = train_family("g", alone, 3, {"hidden": 8}, tr, "cpu")
    assert a == b
    np.testing.assert_array_equal(la["losses"], lb["losses"])
    assert la["losses"].shape == (30, 2) and list(la["conditions"]) == ["constant", "distractors[k=6]"]
    np.testing.assert_allclose(la["losses"][:, 0], lc["losses"][:, 0], rtol=1e-5, atol=1e-7)
    da, dc = pd.DataFrame(a), pd.DataFrame(c)
    da = da[da["condition"] == "constant"].drop(columns="family").reset_index(drop=True)
    np.testing.assert_allclose(da["value"], dc.drop(columns="family")["value"], rtol=1e-5, atol=1e-7)
    assert set(da["metric"]) >= {"eval_mse", "train_loss", "final_eval_mse", "attribution_mean"}


def test_threshold_columns_rows():
    from featurelab.studies.learnability.train import METRIC_COLUMNS, threshold_columns

    run = {
        "study": ["learnability"] * 2,
        "family": ["f"] * 2,
        "condition": ["a", "b"],
        "generator": ["constant"] * 2,
        "params": ["{}"] * 2,
        "seed": [0, 0],
    }
    losses = np.array([[2.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    out = threshold_columns(
        run,
        {"losses": losses, "conditions": np.array(["a", "b"]), "steps_per_epoch": np.array(2)},
        {"running_window": 2, "loss_threshold": 0.1},
    )
    assert set(out) == set(METRIC_COLUMNS)
    got = {(c, m): v for c, m, v in zip(out["condition"], out["metric"], out["value"])}
    assert got[("a", "steps_to_threshold")] == 3 and got[("a", "threshold_reached")] == 1
    assert got[("b", "steps_to_threshold")] == 4 and got[("b", "threshold_reached")] == 0
    assert got[("a", "peak_running_loss_epoch1")] == 2.0 and got[("a", "final_running_loss")] == 0.0
