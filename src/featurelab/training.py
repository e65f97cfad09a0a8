"""One training loop for every study: steps, learning-rate schedule, divergence check, evaluation hooks,
checkpoints.

Studies differ in where a batch comes from (a shuffled fixed dataset, fresh samples each step) and what
they measure, so both are passed in as callables; the loop owns what must be the same everywhere:
the order of operations, the NaN check that names the run and step, early stopping, and checkpointing.

Checkpoints (:class:`Checkpoint`): every ``every`` steps the loop saves, atomically, the step count and
whatever the study's ``state()`` callable returns (model, optimizer, random generators, the metrics
recorded so far) to a file derived from the job's output (:func:`checkpoint_path`). A job that is killed
and started again finds the file, restores that state and continues from that step; because the whole
state (including every random generator) is restored, the resumed run is bit-identical to one that was
never interrupted. The file is keyed by a digest of the run's settings and input data (a checkpoint
made with other settings is ignored) and removed when training finishes.

Preemption: a cluster sends SIGTERM before it kills a job (preemption, the time limit, ``scancel``).
While a checkpointed loop runs, SIGTERM only sets a flag (:class:`SigtermFlag`); the loop finishes the
step it is in, saves the checkpoint at that step (whatever ``every`` says) and raises :class:`Preempted`,
which the job runner (:func:`featurelab.scripting.run`) turns into exit status
:data:`PREEMPTED_EXIT_STATUS`. Snakemake then retries the job (profile ``retries``; SLURM may requeue it
instead) and the retry resumes from that step, bit-identical to a run that was never interrupted.
Outside a checkpointed loop SIGTERM keeps its default (the process ends; the atomic writers leave no
partial output, and a rerun starts the job over).

Shapes: I = instances (models trained together by one optimizer step, e.g. seeds), B = batch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch


@dataclass(frozen=True)
class RunId:
    """Names a run in error messages and provenance."""

    study: str
    condition: str
    seed: int

    def __str__(self) -> str:
        return f"study {self.study!r}, condition {self.condition!r}, seed {self.seed}"


log = logging.getLogger("featurelab")


def seconds_since_process_start() -> float | None:
    """Wall time since this process was started (Linux /proc; None elsewhere).

    Logged at the first optimizer step, because start-up (interpreter, imports, data loading) is a real
    share of a short training job and the benchmark reports it.
    """
    try:
        start_ticks = int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss."""


class Optimizer(Protocol):
    lr: float

    def zero_grad(self) -> None: ...
    def step(self) -> None: ...


def check_finite(loss: torch.Tensor | float, run: RunId, step: int) -> None:
    """Raise :class:`DivergenceError` naming ``run`` and ``step`` unless ``loss`` is finite: a float, a
    scalar tensor or per-instance losses (I,), read through their sum (non-finite when any entry is)."""
    value = float(loss.detach().sum()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise DivergenceError(
            f"training diverged: {run}: loss is {value} at step {step}. "
            "Lower the learning rate or check the inputs for non-finite values."
        )


#: Steps between divergence checks on an accelerator (on the CPU every step is checked: it costs nothing).
GPU_CHECK_EVERY = 50


class FiniteCheck:
    """The NaN/inf check of every step's loss, without a host sync per step on an accelerator.

    Reading a CUDA loss on the host waits for the GPU to finish, which would serialise a training loop of
    small kernels. On an accelerator the losses are kept on the device and read in one transfer every
    ``every`` steps (and before each evaluation, checkpoint and the end), and the error still names the
    first step whose loss was not finite; the steps after it (at most ``every - 1``) are wasted work.
    """

    def __init__(self, run: RunId, every: int | None = None) -> None:
        self.run, self.every = run, every
        self.pending: list[tuple[int, torch.Tensor]] = []

    def add(self, loss: torch.Tensor, step: int) -> None:
        every = self.every if self.every is not None else (1 if loss.device.type == "cpu" else GPU_CHECK_EVERY)
        if every <= 1:
            check_finite(loss, self.run, step)
            return
        self.pending.append((step, loss.detach().sum()))
        if len(self.pending) >= every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        steps, losses = zip(*self.pending)
        self.pending = []
        for step, value in zip(steps, torch.stack(losses).tolist()):  # one host transfer
            check_finite(value, self.run, step)


#: Suffix of a checkpoint file next to the output it belongs to.
CHECKPOINT_SUFFIX = ".ckpt"


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the checkpoint of the job writing ``output`` lives: ``<output>.ckpt``, beside the output."""
    return Path(f"{os.fspath(output)}{CHECKPOINT_SUFFIX}")


def state_key(*parts: Any) -> str:
    """A digest of what a run's result depends on (config sub-trees, input arrays), to key its checkpoint."""
    import hashlib
    import json

    import numpy as np

    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Mapping) and part and all(isinstance(v, np.ndarray) for v in part.values()):
            for name in sorted(part):
                arr = np.ascontiguousarray(part[name])
                digest.update(f"{name}:{arr.dtype}:{arr.shape}".encode())
                digest.update(arr.tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def checkpoint_every(config: Mapping[str, Any] | None) -> int:
    """The checkpoint interval in optimizer steps from the top-level ``checkpoint`` config (0 = off)."""
    return int(((config or {}).get("checkpoint") or {}).get("every_steps", 0) or 0)


@dataclass
class Checkpoint:
    """How :func:`train_loop` saves and resumes a run.

    ``state()`` returns everything that determines the rest of the run besides the step count: model and
    optimizer state, every random generator's state (as tensors), and the metrics recorded so far
    (tensors and plain Python values: lists, dicts, numbers, strings; saved with ``torch.save``).
    ``restore(state)`` puts it back. Loading uses ``torch.load(..., weights_only=True)``, which
    unpickles only those types: a file planted where a checkpoint belongs (a results folder, a shared
    cache) cannot run code on load, and is refused with one line; training then starts over.
    ``key`` identifies the settings (e.g. the config hash of the run): a file with another key is
    ignored, so an edited config never resumes from a stale checkpoint. ``every`` <= 0 disables saving
    (an existing matching checkpoint is still resumed from).
    """

    path: str | os.PathLike
    every: int
    state: Callable[[], dict]
    restore: Callable[[dict], None]
    key: str = ""

    def load(self, n_steps: int) -> int | None:
        """The step to resume from (after restoring the state), or None when there is nothing to resume."""
        path = Path(self.path)
        if not path.exists():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # a planted file: torch refused to run the code it carries
            log.warning(
                "refusing checkpoint %s: it holds more than tensors and plain values (no code is run from a "
                "checkpoint); training from step 0",
                path,
            )
            return None
        except Exception as exc:  # a checkpoint is only ever written atomically, but be safe: start over
            log.warning("ignoring unreadable checkpoint %s (%s); training from step 0", path, exc)
            return None
        if blob.get("key") != self.key or int(blob.get("n_steps", -1)) != n_steps:
            log.warning("ignoring checkpoint %s: it was made with other settings; training from step 0", path)
            return None
        self.restore(blob["state"])
        return int(blob["step"])

    def save(self, step: int, n_steps: int) -> None:
        from featurelab.io import save_torch

        save_torch({"key": self.key, "step": step, "n_steps": n_steps, "state": self.state()}, self.path)

    def remove(self) -> None:
        from featurelab.io import remove_stale_temporaries

        Path(self.path).unlink(missing_ok=True)
        remove_stale_temporaries(self.path)


#: Exit status of a training job that stopped on SIGTERM after writing its checkpoint: EX_TEMPFAIL of
#: sysexits.h ("temporary failure, the user is invited to retry"), so it is told apart from a failure (1)
#: and from a process that SIGTERM ended before it could save (143 = 128 + SIGTERM).
PREEMPTED_EXIT_STATUS = 75


class Preempted(Exception):
    """SIGTERM arrived during a checkpointed training loop; the checkpoint of ``step`` has been written.

    ``exit_status`` tells :func:`featurelab.scripting.run` to exit with :data:`PREEMPTED_EXIT_STATUS`
    (and no traceback): the job did not fail, it was stopped, and its retry resumes from ``step``.
    """

    exit_status = PREEMPTED_EXIT_STATUS

    def __init__(self, run: RunId, step: int, n_steps: int, path: str | os.PathLike) -> None:
        self.run, self.step, self.n_steps, self.path = run, step, n_steps, Path(path)
        super().__init__(
            f"{run}: preempted at step {step}; checkpoint written to {path} "
            f"(SIGTERM; {n_steps - step} of {n_steps} steps left, the retry resumes from here)"
        )


class SigtermFlag:
    """Inside ``with SigtermFlag() as flag:`` SIGTERM sets ``flag.requested`` instead of ending the
    process; the previous handler is put back on exit.

    The handler only sets the flag (no I/O in a signal handler): the training loop looks at it after
    each completed step, so a checkpoint is never written from the middle of a step. Signals can only be
    caught in the main thread; elsewhere (``active`` is False) SIGTERM keeps its previous disposition.
    """

    def __init__(self) -> None:
        self.requested = False
        self.active = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __enter__(self) -> SigtermFlag:
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self.active = True
        except ValueError:  # not the main thread
            self.active = False
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            # None: the previous handler was not installed from Python; SIGTERM's default is the best guess
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self._previous is None else self._previous)
            self.active = False


def train_loop(
    optimizer: Optimizer,
    compute_loss: Callable[[int], torch.Tensor],
    n_steps: int,
    run: RunId,
    *,
    eval_every: int = 0,
    evaluate: Callable[[int], bool | None] | None = None,
    lr_at: Callable[[int], float] | None = None,
    start_step: int = 0,
    checkpoint: Checkpoint | None = None,
) -> int:
    """Run optimizer steps ``start_step .. n_steps - 1``; return the number of steps taken in total.

    ``compute_loss(step)`` returns the loss of the batch for that step: a scalar, or per-instance losses
    (I,) whose sum is backpropagated, so that each instance gets its own gradient. ``evaluate(step)`` is
    called before the first step (step 0) and after every ``eval_every`` steps, with the number of
    completed steps; returning True stops training early. ``lr_at(step)`` sets the learning rate before
    each step.

    With ``checkpoint``, a matching checkpoint file is resumed from (its step replaces ``start_step``),
    the state is saved every ``checkpoint.every`` completed steps (after that step's evaluation), and the
    file is removed once training has finished (or diverged; any other failure keeps it for the rerun).
    While checkpoints are on (``checkpoint.every`` > 0), SIGTERM makes the loop save the checkpoint after
    the step in progress and raise :class:`Preempted` (see the module docstring); a SIGTERM that arrives
    after the last step (or an early stop) changes nothing: the job finishes normally.
    """
    if checkpoint is not None:
        resumed = checkpoint.load(n_steps)
        if resumed is not None:
            log.info("%s: resuming from checkpoint %s at step %d of %d", run, checkpoint.path, resumed, n_steps)
            start_step = resumed
    sigterm = SigtermFlag() if checkpoint is not None and checkpoint.every > 0 else contextlib.nullcontext()
    try:
        with sigterm as flag:
            loop = _Loop(
                optimizer=optimizer,
                compute_loss=compute_loss,
                n_steps=n_steps,
                run=run,
                eval_every=eval_every,
                evaluate=evaluate,
                lr_at=lr_at,
                checkpoint=checkpoint,
                sigterm=flag,
            )
            done = _steps(loop, start_step)
    except DivergenceError:
        if checkpoint is not None:  # resuming would diverge again: leave nothing behind
            checkpoint.remove()
        raise
    except Preempted as stop:
        log.warning("%s", stop)
        raise
    if flag is not None and flag.requested:
        log.warning("%s: SIGTERM arrived after training had ended; finishing the job", run)
    if checkpoint is not None:
        checkpoint.remove()
    return done


@dataclass(frozen=True)
class _Loop:
    """What :func:`train_loop` was asked to do, in one place, so that each of the helpers below that run
    its steps reads the same settings (``sigterm`` is None when SIGTERM is not caught)."""

    optimizer: Optimizer
    compute_loss: Callable[[int], torch.Tensor]
    n_steps: int
    run: RunId
    eval_every: int
    evaluate: Callable[[int], bool | None] | None
    lr_at: Callable[[int], float] | None
    checkpoint: Checkpoint | None
    sigterm: SigtermFlag | None

    @property
    def save_every(self) -> int:
        """Completed steps between checkpoint saves (0: never)."""
        return self.checkpoint.every if self.checkpoint is not None else 0


def _steps(loop: _Loop, start_step: int) -> int:
    """Steps ``start_step .. n_steps - 1`` of ``loop``; the number of steps taken (fewer when an evaluation
    stops training). Every loss is checked before the state it led to is evaluated, saved or returned."""
    if loop.evaluate is not None and start_step == 0 and loop.evaluate(0):
        return 0
    finite = FiniteCheck(loop.run)
    for step in range(start_step, loop.n_steps):
        _optimizer_step(loop, step, finite)
        if step == start_step:
            _log_first_step(loop.run)
        if _after_step(loop, step + 1, finite):
            return step + 1
    finite.flush()
    return loop.n_steps


def _optimizer_step(loop: _Loop, step: int, finite: FiniteCheck) -> None:
    """One update: the scheduled learning rate, the loss of ``step``'s batch (queued for the finite check),
    its gradient and the optimizer's step. Per-instance losses are summed, so each instance gets its own
    gradient."""
    if loop.lr_at is not None:
        loop.optimizer.lr = loop.lr_at(step)
    loop.optimizer.zero_grad()
    loss = loop.compute_loss(step)
    finite.add(loss, step)
    loss.sum().backward()
    loop.optimizer.step()


def _log_first_step(run: RunId) -> None:
    """Log how long the process took to reach its first optimizer step (start-up is a real share of a
    short job, and the benchmarks read this line)."""
    since_start = seconds_since_process_start()
    if since_start is not None:
        log.info("%s: first optimizer step %.2f s after process start", run, since_start)


def _after_step(loop: _Loop, done: int, finite: FiniteCheck) -> bool:
    """What follows ``done`` completed steps: the evaluation, the checkpoint save, and on SIGTERM the save
    and :class:`Preempted`. True when the evaluation stops training."""
    evaluating = loop.evaluate is not None and bool(loop.eval_every) and done % loop.eval_every == 0
    saving = loop.save_every > 0 and done % loop.save_every == 0 and done < loop.n_steps
    if evaluating or saving:
        finite.flush()  # never evaluate or save a state that has already diverged
    if evaluating and loop.evaluate(done):
        return True
    if saving:
        loop.checkpoint.save(done, loop.n_steps)
    if loop.sigterm is not None and loop.sigterm.requested and done < loop.n_steps:
        if not saving:
            finite.flush()
            loop.checkpoint.save(done, loop.n_steps)
        raise Preempted(loop.run, done, loop.n_steps, loop.checkpoint.path)
    return False


class EpochBatches:
    """Index batches that reshuffle at each epoch: ``batches(step)`` for step = 0, 1, 2, ... is an int64 (B,)
    tensor on ``device`` of rows in [0, n_examples), B = ``batch_size``; ``steps_per_epoch`` batches make an
    epoch.

    Like the notebook's ``train_epoch``, the last batch of an epoch is short when ``batch_size`` does not
    divide ``n_examples``. Permutations are drawn on the CPU generator so they are the same on any device.
    :meth:`state_dict` / :meth:`load_state_dict` save and restore the shuffling state exactly (for
    checkpoints, also in the middle of an epoch).
    """

    def __init__(
        self, n_examples: int, batch_size: int, generator: torch.Generator, device: str | torch.device
    ) -> None:
        self.n_examples, self.batch_size, self.generator, self.device = n_examples, batch_size, generator, device
        self.steps_per_epoch = math.ceil(n_examples / batch_size)
        self._epoch: int | None = None  # the epoch whose permutation is held
        self._before: torch.Tensor | None = None  # the generator's state before that permutation was drawn
        self._order: torch.Tensor | None = None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._draw(epoch)
        return self._order[k * self.batch_size : (k + 1) * self.batch_size]

    def _draw(self, epoch: int) -> None:
        self._epoch, self._before = epoch, self.generator.get_state()
        self._order = torch.randperm(self.n_examples, generator=self.generator).to(self.device)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state before the held epoch's permutation (the permutation is drawn again on load)."""
        if self._epoch is None:
            return {"epoch": None, "generator": self.generator.get_state()}
        return {"epoch": self._epoch, "generator": self._before.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._epoch = self._before = self._order = None
        if state["epoch"] is not None:
            self._draw(int(state["epoch"]))  # the same permutation, and the generator where it was after it
