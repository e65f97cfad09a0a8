"""Regression tasks of the learnability study (notebook 002): inputs built from a target y ~ N(0, 1).

Each task is a named generator with a few parameters. ``sample(task, n, streams)`` returns ``(x, y)``
with ``x`` of shape ``(n, input_dim(task))`` and ``y`` of shape ``(n,)``, vectorized over samples
(the notebook drew one sample per ``__getitem__`` in Python).

Randomness: every random variable of a task has its *own* NumPy stream (``y``, ``noise``, ``mask``),
and each stream is consumed row by row. Drawing ``n1`` then ``n2`` samples therefore gives exactly the
rows of drawing ``n1 + n2`` at once, so results do not depend on how training chunks its data.

NumPy only: no torch here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: Parameters each generator accepts, with defaults (the notebook's values).
GENERATORS: dict[str, dict[str, float]] = {
    "constant": {},
    "scale_shift": {"scale": 1.0, "shift": 0.0},
    "sum": {"spread": 1.0},
    "distractors": {"k": 2},
    "double": {"offset": 1.0},
    "double_mistakes": {"rate": 0.2, "offset": 0.0},
    "double_noisy": {"noise": 0.2},
    "sum_distractor": {"noise": 0.2},
    "continuity": {},
}

#: The random variables of a task, each drawn from its own generator (:class:`Streams`).
STREAMS = ("y", "noise", "mask")


class Streams:
    """One NumPy generator per random variable of a task."""

    def __init__(self, make_rng: Callable[[str], np.random.Generator]) -> None:
        self.rng = {name: make_rng(name) for name in STREAMS}

    def __getitem__(self, name: str) -> np.random.Generator:
        return self.rng[name]


def resolve_task(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``{'generator': 'sum', 'spread': 15}`` -> the spec with every default filled in (and checked)."""
    spec = dict(spec)
    try:
        name = spec.pop("generator")
    except KeyError:
        raise ValueError(f"task {spec!r} has no 'generator' key") from None
    if name not in GENERATORS:
        raise ValueError(f"unknown task generator {name!r} (expected one of {sorted(GENERATORS)})")
    unknown = set(spec) - set(GENERATORS[name])
    if unknown:
        raise ValueError(
            f"task generator {name!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(GENERATORS[name])}"
        )
    params = {**GENERATORS[name], **spec}
    if name == "distractors":
        params["k"] = int(params["k"])
        if params["k"] < 1:
            raise ValueError(f"task 'distractors': k must be >= 1, got {params['k']}")
    if name == "double_mistakes" and not 0 <= params["rate"] <= 1:
        raise ValueError(f"task 'double_mistakes': rate must be in [0, 1], got {params['rate']}")
    return {"generator": name, **{k: params[k] for k in sorted(params)}}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def task_name(task: Mapping[str, Any]) -> str:
    """The condition name of a resolved task, e.g. ``scale_shift[scale=0.01,shift=0]`` or ``constant``."""
    params = {k: v for k, v in task.items() if k != "generator"}
    if not params:
        return task["generator"]
    return task["generator"] + "[" + ",".join(f"{k}={_fmt(v)}" for k, v in sorted(params.items())) + "]"


def task_params_json(task: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in task.items() if k != "generator"}, sort_keys=True)


def input_dim(task: Mapping[str, Any]) -> int:
    g = task["generator"]
    if g in ("constant", "scale_shift"):
        return 1
    if g == "distractors":
        return int(task["k"])
    if g in ("sum", "double", "double_mistakes", "double_noisy"):
        return 2
    return 3  # sum_distractor, continuity


def input_names(task: Mapping[str, Any]) -> list[str]:
    """Human-readable name of every input of a task, in column order (used in the attribution table and
    figure)."""
    g = task["generator"]
    names = {
        "constant": ["y"],
        "scale_shift": ["(y+shift)*scale"],
        "sum": ["n*spread", "y-n*spread"],
        "double": ["y", "-y-offset"],
        "double_mistakes": ["y", "-y-offset (rate: noise)"],
        "double_noisy": ["y+noise*n", "y"],
        "sum_distractor": ["y+noise*n1", "n2", "y-n2"],
        "continuity": ["flag(y<0)", "y if flag else n1", "n2 if flag else y"],
    }
    if g == "distractors":
        return ["y"] + [f"n{i}" for i in range(1, int(task["k"]))]
    return names[g]


def sample(task: Mapping[str, Any], n: int, streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """``n`` fresh samples of a resolved task: inputs ``(n, input_dim)`` float32 and targets ``(n,)``."""
    g = task["generator"]
    y = streams["y"].standard_normal(n)

    def noise(m: int) -> np.ndarray:
        """``m`` standard-normal columns for the ``n`` samples, ``(n, m)``, from the task's noise stream."""
        return streams["noise"].standard_normal((n, m))

    if g == "constant":
        x = y[:, None]
    elif g == "scale_shift":
        x = ((y + task["shift"]) * task["scale"])[:, None]
    elif g == "sum":
        x1 = noise(1)[:, 0] * task["spread"]
        x = np.stack([x1, y - x1], axis=1)
    elif g == "distractors":
        x = np.concatenate([y[:, None], noise(int(task["k"]) - 1)], axis=1)
    elif g == "double":
        x = np.stack([y, -y - task["offset"]], axis=1)
    elif g == "double_mistakes":
        # The notebook drew the mistake with np.random (global state); here it has its own stream.
        mistake = streams["mask"].random(n) < task["rate"]
        x2 = np.where(mistake, noise(1)[:, 0], -y - task["offset"])
        x = np.stack([y, x2], axis=1)
    elif g == "double_noisy":
        x = np.stack([y + noise(1)[:, 0] * task["noise"], y], axis=1)
    elif g == "sum_distractor":
        n12 = noise(2)
        x = np.stack([y + n12[:, 0] * task["noise"], n12[:, 1], y - n12[:, 1]], axis=1)
    elif g == "continuity":
        n12 = noise(2)
        flag = y < 0
        x = np.stack([flag.astype(np.float64), np.where(flag, y, n12[:, 0]), np.where(flag, n12[:, 1], y)], axis=1)
    else:  # resolve_task rejects unknown names first
        raise ValueError(f"unknown task generator {g!r}")
    return x.astype(np.float32), y.astype(np.float32)


def expand_tasks(specs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Config task entries -> resolved tasks. A list-valued parameter is a grid: the Cartesian product of
    all list-valued parameters of an entry is expanded (``scale: [0.1, 1], shift: [0, 5]`` -> 4 tasks)."""
    import itertools

    tasks: list[dict[str, Any]] = []
    for spec in specs:
        keys = [k for k, v in spec.items() if k != "generator" and isinstance(v, (list, tuple))]
        grids = [list(spec[k]) for k in keys]
        for combo in itertools.product(*grids):
            tasks.append(resolve_task({**spec, **dict(zip(keys, combo))}))
    names = [task_name(t) for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"task(s) listed twice in one family: {duplicates}")
    return tasks
