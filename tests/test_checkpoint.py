"""Checkpoint/resume: a training run killed after a checkpoint and started again continues from that
checkpoint and ends bit-identical to a run that was never interrupted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelab import training
from featurelab.studies.complexity import train as complexity
from featurelab.studies.dissociation import train as dissociation
from featurelab.training import Checkpoint, checkpoint_path, epoch_batches


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the run catches it."""


def kill_after_saves(monkeypatch, n_saves: int) -> list[int]:
    """Make the n-th checkpoint save 'kill' the process right after the file is written."""
    saved: list[int] = []
    original = Checkpoint.save

    def save(self, step, n_steps):
        original(self, step, n_steps)
        saved.append(step)
        if len(saved) == n_saves:
            raise Killed(step)

    monkeypatch.setattr(Checkpoint, "save", save)
    return saved


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


COMPLEXITY_MODEL = {"hidden_widths": [16, 8], "leaky_relu_slope": 0.01}
COMPLEXITY_TRAINING = {
    "optimizer": "adam",
    "learning_rate": 0.01,
    "batch_size": 48,
    "epochs": 4,
    "early_stopping": {"enabled": False, "patience": 10, "min_delta": 0.0},
}


@pytest.fixture(scope="module")
def complexity_data():
    pair = ["linear", "xor_xor_xor"]
    cfg = {"units_per_feature": 8, "linear_copies": 4, "n_train": 200, "n_rep_fit": 64, "n_test": 64}
    return pair, complexity.make_splits(pair, 0, cfg)


@pytest.mark.parametrize("every, kill_at", [(3, 2), (5, 1)])  # mid-epoch (5 steps/epoch) and at an epoch's end
def test_complexity_resume_is_bit_identical(tmp_path, monkeypatch, complexity_data, every, kill_at):
    pair, data = complexity_data
    ref_cols, ref_state = complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu")

    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    saved = kill_after_saves(monkeypatch, kill_at)
    with pytest.raises(Killed):
        complexity.train_run(
            pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=every
        )
    assert ckpt.exists() and saved == [every * (i + 1) for i in range(kill_at)]
    monkeypatch.undo()

    resumed_from = []
    original_load = Checkpoint.load
    monkeypatch.setattr(
        Checkpoint, "load", lambda self, n: resumed_from.append(original_load(self, n)) or resumed_from[-1]
    )
    cols, state = complexity.train_run(
        pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=every
    )
    assert resumed_from == [saved[-1]]  # it continued from the last checkpoint, not from step 0
    assert cols == ref_cols  # every metric of every epoch, bit for bit
    assert_same_state(state, ref_state)
    assert not ckpt.exists()  # removed on success


def test_checkpoint_from_other_settings_is_ignored(tmp_path, monkeypatch, complexity_data):
    pair, data = complexity_data
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    kill_after_saves(monkeypatch, 1)
    with pytest.raises(Killed):
        complexity.train_run(
            pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=3
        )
    monkeypatch.undo()
    other = {**COMPLEXITY_TRAINING, "learning_rate": 0.02}
    ref_cols, ref_state = complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, other, "cpu")
    cols, state = complexity.train_run(
        pair, 0, data, COMPLEXITY_MODEL, other, "cpu", checkpoint_to=ckpt, checkpoint_every=3
    )
    assert cols == ref_cols
    assert_same_state(state, ref_state)


def test_dissociation_resume_is_bit_identical(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = {
        "x_train": rng.random((300, 784), dtype=np.float32),
        "y_train": rng.integers(0, 10, 300),
        "x_test": rng.random((50, 784), dtype=np.float32),
        "y_test": rng.integers(0, 10, 50),
    }
    model = {"hidden_widths": [16, 16]}
    train = {"learning_rate": 0.1, "final_learning_rate": 1e-6, "batch_size": 64, "epochs": 3}
    ref_cols, ref_state = dissociation.train_run(0, data, model, train, "cpu")
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    kill_after_saves(monkeypatch, 2)
    with pytest.raises(Killed):
        dissociation.train_run(0, data, model, train, "cpu", checkpoint_to=ckpt, checkpoint_every=4)
    monkeypatch.undo()
    cols, state = dissociation.train_run(0, data, model, train, "cpu", checkpoint_to=ckpt, checkpoint_every=4)
    assert cols == ref_cols
    assert_same_state(state, ref_state)
    assert not ckpt.exists()


def test_epoch_batches_state_roundtrip_mid_epoch():
    def fresh():
        gen = torch.Generator().manual_seed(7)
        return epoch_batches(10, 3, gen, "cpu")  # 4 steps per epoch

    ref = fresh()
    ref_batches = [ref(s) for s in range(12)]
    for cut in range(1, 12):
        a = fresh()
        for s in range(cut):
            a(s)
        state = a.state_dict()
        b = fresh()
        b.load_state_dict(state)
        for s in range(cut, 12):
            assert torch.equal(b(s), ref_batches[s]), (cut, s)


def test_train_loop_without_checkpoint_is_unchanged():
    w = torch.nn.Parameter(torch.ones(3))
    from featurelab.optim import SGD

    opt = SGD([w], lr=0.1)
    assert training.train_loop(opt, lambda s: (w**2).sum(), 5, training.RunId("t", "c", 0)) == 5


def test_diverging_run_leaves_no_checkpoint(tmp_path, complexity_data):
    pair, data = complexity_data
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    diverging = {**COMPLEXITY_TRAINING, "optimizer": "sgd", "learning_rate": 1e4}
    with pytest.raises(training.DivergenceError, match=r"seed 0: loss is (nan|inf) at step"):
        complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, diverging, "cpu", checkpoint_to=ckpt, checkpoint_every=1)
    assert not ckpt.exists() and not list(tmp_path.iterdir())


def test_batched_divergence_check_names_the_first_bad_step():
    """On an accelerator losses are read every N steps; the error must still name the first non-finite one."""
    check = training.FiniteCheck(training.RunId("t", "c", 0), every=10)
    for step in range(7):
        check.add(torch.tensor(1.0), step)
    check.add(torch.tensor(float("nan")), 7)
    check.add(torch.tensor(float("inf")), 8)
    with pytest.raises(training.DivergenceError, match=r"loss is nan at step 7"):
        check.add(torch.tensor(1.0), 9)  # the 10th loss triggers the read


def test_train_loop_checks_pending_losses_before_evaluating(monkeypatch):
    w = torch.nn.Parameter(torch.ones(3))
    from featurelab.optim import SGD

    evaluated = []
    finite = training.FiniteCheck
    monkeypatch.setattr(training, "FiniteCheck", lambda run: finite(run, every=1000))
    loss = lambda s: (w**2).sum() * (float("nan") if s == 2 else 1.0)  # noqa: E731
    with pytest.raises(training.DivergenceError, match="at step 2"):
        training.train_loop(
            SGD([w], lr=0.1),
            loss,
            20,
            training.RunId("t", "c", 0),
            eval_every=4,
            evaluate=lambda step: evaluated.append(step),
        )
    assert evaluated == [0]  # the evaluation after step 3 never saw the diverged state
