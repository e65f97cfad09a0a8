"""Early stopping of the complexity study: the 'all_features_learned' rule cannot stop on the learning
plateau that the test-loss patience rule stops on, and the paper-regime config is valid."""

from __future__ import annotations

import pytest
import yaml

from featurelab.studies.complexity import train as complexity
from featurelab.studies.complexity.train import EarlyStopping
from tests.helpers import REPO, check_config, default_config, merged_config

PATIENCE = {
    "enabled": True,
    "rule": "loss_patience",
    "patience": 50,
    "min_delta": 1e-4,
    "learned_accuracy": 0.99,
    "hold_epochs": 20,
}
LEARNED = {**PATIENCE, "rule": "all_features_learned"}


def plateau(stopper: EarlyStopping, epochs: int, start: int = 0) -> int | None:
    """Feed a plateau: the easy feature learned, the hard one at chance, the test loss flat."""
    for epoch in range(start, start + epochs):
        if stopper.update(epoch, 0.35, [1.0, 0.5]):
            return epoch
    return None


def test_loss_patience_stops_on_the_plateau_but_all_features_learned_does_not():
    assert plateau(EarlyStopping(PATIENCE), 1000) == 50
    assert plateau(EarlyStopping(LEARNED), 1000) is None


def test_all_features_learned_stops_after_hold_epochs_and_a_dip_resets_the_count():
    stopper = EarlyStopping(LEARNED)
    assert plateau(stopper, 600) is None
    for epoch in range(600, 610):  # learned for 10 epochs, then one epoch below the bar
        assert not stopper.update(epoch, 0.01, [1.0, 0.995])
    assert not stopper.update(610, 0.01, [1.0, 0.98])
    stops = [stopper.update(epoch, 0.01, [1.0, 0.99]) for epoch in range(611, 640)]
    assert stops.index(True) == 19  # the 20th consecutive learned epoch (epoch 630)


def test_accuracy_on_the_bar_counts_as_learned_whatever_its_last_bits():
    """990/1000 in float32 is 0.99000001 or 0.98999995 depending on how it is summed."""
    for value in (0.99 * (1 - 1e-7), 0.99, 0.99 * (1 + 1e-7)):
        stopper = EarlyStopping({**LEARNED, "hold_epochs": 1})
        assert stopper.update(0, 0.0, [1.0, value])


def test_disabled_never_stops():
    assert plateau(EarlyStopping({**PATIENCE, "enabled": False}), 500) is None
    assert plateau(EarlyStopping({**LEARNED, "enabled": False}), 500) is None


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match="'early_stopping.rule': 'plateau'"):
        EarlyStopping({**LEARNED, "rule": "plateau"})


def test_stopper_state_round_trips():
    stopper = EarlyStopping(LEARNED)
    for epoch in range(5):
        stopper.update(epoch, 0.1, [1.0, 1.0])
    resumed = EarlyStopping(LEARNED)
    resumed.load_state_dict(stopper.state_dict())
    assert [resumed.update(e, 0.1, [1.0, 1.0]) for e in range(5, 20)] == [
        stopper.update(e, 0.1, [1.0, 1.0]) for e in range(5, 20)
    ]


def _small_run(epochs: int, early_stopping: dict) -> dict[str, list]:
    """The metric columns of a small network trained on a learnable pair (linear, and_and_and)."""
    pair = ["linear", "and_and_and"]
    data = complexity.make_splits(
        pair, 0, {"units_per_feature": 8, "linear_copies": 4, "n_train": 512, "n_rep_fit": 128, "n_test": 128}
    )
    training = {
        "optimizer": "adam",
        "learning_rate": 0.01,
        "batch_size": 64,
        "epochs": epochs,
        "early_stopping": early_stopping,
    }
    columns, _ = complexity.train_run(
        pair, 0, data, {"hidden_widths": [32, 16], "leaky_relu_slope": 0.01}, training, "cpu"
    )
    return columns


def test_real_run_stops_once_both_features_are_learned():
    """A small network with a learnable pair: it stops hold_epochs after both features are learned,
    well before its budget, and the last recorded epoch is that stop."""
    columns = _small_run(200, {**LEARNED, "hold_epochs": 3})
    rows = list(zip(columns["epoch"], columns["split"], columns["metric"], columns["feature_index"], columns["value"]))
    acc = {}
    for epoch, split, metric, _index, value in rows:
        if split == "test" and metric == "accuracy":
            acc.setdefault(epoch, []).append(value)
    last = max(acc)
    assert last < 200
    learned = [e for e in sorted(acc) if min(acc[e]) >= 0.99]
    assert learned[-3:] == [last - 2, last - 1, last]
    # the train split is evaluated at the run's last evaluation only: the stop, here
    assert {epoch for epoch, split, *_ in rows if split == "train"} == {last}


def test_the_train_split_is_evaluated_at_the_last_epoch_only():
    """Without early stopping: test metrics every epoch (0 = before any update), train loss and accuracy
    only at the last one, which the claims and the final-epoch summaries read."""
    columns = _small_run(3, {"enabled": False})
    epochs = {
        split: {e for e, s in zip(columns["epoch"], columns["split"]) if s == split} for split in ("train", "test")
    }
    assert epochs == {"train": {3}, "test": {0, 1, 2, 3}}


@pytest.mark.parametrize("name", ["paper.yaml", "full.yaml"])
def test_paper_regime_configs_are_valid_and_use_the_plateau_proof_rule(name):
    overlay = yaml.safe_load((REPO / "config" / name).read_text())
    config = merged_config(default_config(), overlay)
    check_config(config)
    training = config["complexity"]["training"]
    assert training["optimizer"] == "sgd" and training["learning_rate"] == 0.1
    assert training["early_stopping"]["enabled"] and training["early_stopping"]["rule"] == "all_features_learned"


def test_default_config_keeps_the_notebook_regime():
    training = default_config()["complexity"]["training"]
    assert training["optimizer"] == "adam" and training["epochs"] == 100
    assert training["early_stopping"]["enabled"] is False
