"""Fixtures of the learnability tests: every default family trained in process for a short budget (used by
the claims and the figure tests)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from tests.helpers import default_config


def _train_default_families(lr: float, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Every family and task of the default config, trained as the per-seed job trains them (one run per
    seed) for a short budget (40 steps an epoch, the config's epochs) at learning rate ``lr``; ``lr = 0``
    is an untrained run (the losses stay at their initial values). Returns the analyze rule's runs table."""
    from featurelab.studies.learnability.train import threshold_columns, train_seed

    ln = default_config()["learnability"]
    tr = {
        **ln["training"],
        "learning_rate": lr,
        "batch_size": 4,
        "steps_per_epoch": 40,
        "eval_every": 40,
        "n_eval": 200,
        "n_attribution": 100,
    }
    frames = []
    for seed in seeds:
        for cols, _, per_step in train_seed(ln["families"], seed, ln["model"], tr, "cpu").values():
            extra = threshold_columns(cols, per_step, {"running_window": 20, "loss_threshold": 0.05})
            frames += [pd.DataFrame(cols), pd.DataFrame(extra)]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="package")
def untrained_runs() -> pd.DataFrame:
    torch.set_num_threads(1)
    return _train_default_families(0.0)


@pytest.fixture(scope="package")
def trained_runs() -> pd.DataFrame:
    torch.set_num_threads(1)
    return _train_default_families(3e-2)  # short budget, so a larger step than the default 1e-3
