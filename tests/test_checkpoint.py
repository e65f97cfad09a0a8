"""Checkpoint/resume: a training run killed after a checkpoint and started again continues from that
checkpoint and ends bit-identical to a run that was never interrupted. Preemption: a training run sent
SIGTERM saves the step in progress and stops (exit status 75); its retry resumes from there, bit-identical
(in-process, and through the real workflow with Snakemake's retry)."""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest
import torch

from featurelab import training
from featurelab.studies.complexity import train as complexity
from featurelab.studies.dissociation import train as dissociation
from featurelab.studies.learnability import train as learnability
from featurelab.training import Checkpoint, EpochBatches, checkpoint_path
from tests import preemption
from tests.helpers import finish, start_snakemake, write_yaml


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


class _Payload:
    """Unpickling this object opens (creates) ``marker``: code run from a data file."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_carrying_a_pickled_payload_is_refused_and_training_starts_over(tmp_path, complexity_data, caplog):
    pair, data = complexity_data
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    marker = tmp_path / "payload_ran"
    torch.save({"key": "", "step": 3, "n_steps": 10**6, "state": _Payload(marker)}, ckpt)
    reference = complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu")
    with caplog.at_level("WARNING", logger="featurelab"):
        cols, state = complexity.train_run(
            pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=3
        )
    assert not marker.exists(), "loading the checkpoint ran code from it"
    refusals = [r.getMessage() for r in caplog.records if "refusing checkpoint" in r.getMessage()]
    assert len(refusals) == 1 and str(ckpt) in refusals[0] and "training from step 0" in refusals[0]
    assert cols == reference[0]
    assert_same_state(state, reference[1])


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


#: Two learnability families sharing ``constant``, budgets 30 and 90 steps (snapshot at 30), two width
#: groups, training data drawn 30 steps at a time.
LEARNABILITY = {
    "short": {"epochs": 1, "tasks": [{"generator": "constant"}, {"generator": "distractors", "k": 6}]},
    "long": {"epochs": 3, "tasks": [{"generator": "constant"}, {"generator": "distractors", "k": 2000}]},
}
LEARNABILITY_TRAINING = {
    "learning_rate": 1e-2, "batch_size": 2, "steps_per_epoch": 30, "eval_every": 20, "n_eval": 16, "n_attribution": 8,
}  # fmt: skip


def learnability_run(**checkpoint) -> dict:
    return learnability.train_seed(LEARNABILITY, 0, {"hidden": 8}, LEARNABILITY_TRAINING, "cpu", **checkpoint)


def assert_same_learnability_runs(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for family in a:
        assert a[family][0] == b[family][0]
        for name, params in a[family][1]["instances"].items():
            assert_same_state(params, b[family][1]["instances"][name])
        for key, value in a[family][2].items():
            np.testing.assert_array_equal(value, b[family][2][key])


@pytest.mark.parametrize("kill_at", [2, 5])  # before the snapshot at step 30; after it, in a data chunk
def test_learnability_resume_is_bit_identical(tmp_path, monkeypatch, kill_at):
    """The per-seed learnability run resumed from a checkpoint: the same rows, snapshots (the short family's
    networks and attribution), per-step losses and networks as a run never interrupted."""
    reference = learnability_run()
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    saved = kill_after_saves(monkeypatch, kill_at)
    with pytest.raises(Killed):
        learnability_run(checkpoint_to=ckpt, checkpoint_every=7)
    assert saved == [7 * (i + 1) for i in range(kill_at)]
    monkeypatch.undo()
    resumed_from = []
    original_load = Checkpoint.load
    monkeypatch.setattr(
        Checkpoint, "load", lambda self, n: resumed_from.append(original_load(self, n)) or resumed_from[-1]
    )
    assert_same_learnability_runs(learnability_run(checkpoint_to=ckpt, checkpoint_every=7), reference)
    assert resumed_from == [saved[-1]] and not ckpt.exists()


def test_learnability_sigterm_saves_and_resume_is_bit_identical(tmp_path, monkeypatch):
    reference = learnability_run()
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    sigterm_at(monkeypatch, 40)
    with pytest.raises(training.Preempted) as stop:
        learnability_run(checkpoint_to=ckpt, checkpoint_every=1000)
    monkeypatch.undo()
    assert stop.value.step == 41 and "condition 'short+long', seed 0" in str(stop.value)
    assert_same_learnability_runs(learnability_run(checkpoint_to=ckpt, checkpoint_every=1000), reference)
    assert not ckpt.exists()


def test_epoch_batches_state_roundtrip_mid_epoch():
    def fresh():
        gen = torch.Generator().manual_seed(7)
        return EpochBatches(10, 3, gen, "cpu")  # 4 steps per epoch

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


# ------------------------------------------------------------------------------------- SIGTERM (preemption)


def sigterm_at(monkeypatch, at_step: int) -> None:
    """Deliver a real SIGTERM to this process while step ``at_step`` is computed (from the loop's finite
    check, which every step calls): what a cluster does to a job it preempts."""
    add = training.FiniteCheck.add

    def add_then_signal(self, loss, step):
        add(self, loss, step)
        if step == at_step:
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(training.FiniteCheck, "add", add_then_signal)


@pytest.mark.parametrize("every, at_step", [(1000, 7), (3, 8)])  # no periodic save yet; just after one
def test_sigterm_saves_the_step_in_progress_and_resume_is_bit_identical(
    tmp_path, monkeypatch, complexity_data, every, at_step
):
    pair, data = complexity_data
    ref_cols, ref_state = complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu")
    before = signal.getsignal(signal.SIGTERM)
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    sigterm_at(monkeypatch, at_step)
    with pytest.raises(training.Preempted) as stop:
        complexity.train_run(
            pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=every
        )
    monkeypatch.undo()
    # the step in progress is completed and saved, whatever the interval says; the handler is put back
    assert stop.value.step == at_step + 1 and stop.value.exit_status == training.PREEMPTED_EXIT_STATUS == 75
    assert f"preempted at step {at_step + 1}; checkpoint written to {ckpt}" in str(stop.value)
    assert torch.load(ckpt, weights_only=True)["step"] == at_step + 1
    assert signal.getsignal(signal.SIGTERM) == before
    assert [p.name for p in tmp_path.iterdir()] == [ckpt.name]  # no temporary file beside it

    cols, state = complexity.train_run(
        pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=every
    )
    assert cols == ref_cols
    assert_same_state(state, ref_state)
    assert not ckpt.exists()


def test_sigterm_is_left_alone_without_checkpoints(tmp_path, monkeypatch, complexity_data):
    """Checkpoints off (``every_steps: 0``) or no checkpoint at all: the loop installs no handler, so SIGTERM
    keeps its usual effect (here a test handler stands in for it)."""
    pair, data = complexity_data
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *a: seen.append("TERM"))
    try:
        sigterm_at(monkeypatch, 2)
        complexity.train_run(
            pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu",
            checkpoint_to=checkpoint_path(tmp_path / "m.parquet"), checkpoint_every=0,
        )  # fmt: skip
        complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["TERM", "TERM"] and not list(tmp_path.iterdir())


def test_sigterm_after_the_last_step_lets_the_job_finish(tmp_path, monkeypatch, complexity_data):
    pair, data = complexity_data
    ref_cols, _ = complexity.train_run(pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu")
    n_steps = 5 * COMPLEXITY_TRAINING["epochs"]  # 200 examples in batches of 48: 5 steps per epoch
    sigterm_at(monkeypatch, n_steps - 1)
    ckpt = checkpoint_path(tmp_path / "metrics.parquet")
    cols, _ = complexity.train_run(
        pair, 0, data, COMPLEXITY_MODEL, COMPLEXITY_TRAINING, "cpu", checkpoint_to=ckpt, checkpoint_every=3
    )
    assert cols == ref_cols and not ckpt.exists()


def test_job_runner_exits_with_the_preemption_status(tmp_path, capsys):
    """featurelab.scripting.run: a Preempted stop exits 75 with one line and no traceback; a failure exits 1."""
    from types import SimpleNamespace

    from featurelab.scripting import run

    smk = SimpleNamespace(log=[str(tmp_path / "job.log")], rule="complexity_train", wildcards={"seed": "0"})
    stop = training.Preempted(training.RunId("s", "c", 0), 40, 640, tmp_path / "x.ckpt")

    def preempted(_):
        raise stop

    with pytest.raises(SystemExit) as exit_:
        run(preempted, smk)
    assert exit_.value.code == 75
    err = capsys.readouterr().err
    assert "rule complexity_train ({'seed': '0'}) stopped: " in err and "preempted at step 40; checkpoint" in err
    assert "Traceback" not in (tmp_path / "job.log").read_text()

    def fails(_):
        raise ValueError("bad")

    with pytest.raises(SystemExit) as exit_:
        run(fails, smk)
    assert exit_.value.code == 1


#: The studies of the session's shared tiny tree the end-to-end test below copies.
TINY_STUDIES = ["complexity"]


@pytest.mark.e2e
def test_sigterm_to_a_running_training_job_then_retry_resumes_bit_identical(tiny_trees, tmp_path):
    """The real workflow: SIGTERM to a training job's Python process once it has written a checkpoint; the
    job saves the step it is in and exits 75, Snakemake's retry (``--retries 1``) resumes from that step,
    and the outputs equal an uninterrupted run's (run beside it on the other core)."""
    config = write_yaml(tmp_path / "preempt.yaml", preemption.preempt_config())
    targets = preemption.train_targets([0])
    reference, _, _ = tiny_trees.workdir(tmp_path / "reference", ["complexity"], figures_all=False)
    work, _, _ = tiny_trees.workdir(tmp_path / "work", ["complexity"], figures_all=False)
    uninterrupted = start_snakemake(reference, *targets, "--cores", "1", configfile=config)
    run = start_snakemake(work, *targets, "--cores", "1", "--retries", "1", configfile=config)
    try:
        preemption.wait_until(
            preemption.checkpoint_file(work, 0).exists, 120, "checkpoint of the training job", run.running
        )
        pid, _ = preemption.training_process(work, 0)
        os.kill(pid, signal.SIGTERM)
        done = finish(run)
    finally:
        run.stop()
        finish(uninterrupted)

    out = done.stdout + done.stderr
    stopped = re.search(r"preempted at step (\d+); checkpoint written to (\S+) ", out)
    assert stopped, out[-3000:]
    step = int(stopped.group(1))
    assert preemption.EVERY_STEPS <= step < preemption.N_STEPS
    assert stopped.group(2) == f"{preemption.run_dir(0)}/metrics.parquet.ckpt"
    assert "(exit status 75)" in out and "returned non-zero exit status 75" in out
    log = preemption.train_log(work, 0).read_text()  # the retry's log
    assert f"resuming from checkpoint {stopped.group(2)} at step {step} of {preemption.N_STEPS}" in log
    assert not list(work.rglob("*.ckpt")), "the checkpoint is removed once the job has finished"
    assert not [p for p in (work / "results").rglob(".*") if p.is_file()], "a writer's temporary file was left"
    preemption.assert_same_training_outputs(reference, work, [0])
