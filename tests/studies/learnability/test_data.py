"""The learnability study's task generators: known answers, chunk invariance, task grids."""

from __future__ import annotations

import numpy as np
import pytest

from featurelab.seeding import numpy_rng
from featurelab.studies.learnability.data import (
    Streams,
    expand_tasks,
    input_dim,
    input_names,
    resolve_task,
    sample,
    task_name,
)


def streams(tag: str = "t") -> Streams:
    return Streams(lambda s: numpy_rng("test", tag, s))


ALL_TASKS = [
    resolve_task(t)
    for t in (
        {"generator": "constant"},
        {"generator": "scale_shift", "scale": 0.5, "shift": 2},
        {"generator": "sum", "spread": 15},
        {"generator": "distractors", "k": 5},
        {"generator": "double"},
        {"generator": "double_mistakes"},
        {"generator": "double_noisy"},
        {"generator": "sum_distractor"},
        {"generator": "continuity"},
    )
]


# --- generators -------------------------------------------------------------------------------------
def test_generators_known_answers():
    n = 20000
    out = {task_name(t): sample(t, n, streams(task_name(t))) for t in ALL_TASKS}
    for t in ALL_TASKS:
        x, y = out[task_name(t)]
        assert x.shape == (n, input_dim(t)) == (n, len(input_names(t))) and y.shape == (n,)
        assert x.dtype == np.float32
        assert abs(y.mean()) < 0.03 and abs(y.std() - 1) < 0.03
    x, y = out["constant"]
    np.testing.assert_array_equal(x[:, 0], y)
    x, y = out["scale_shift[scale=0.5,shift=2]"]
    np.testing.assert_allclose(x[:, 0], (y + 2) * 0.5, atol=1e-6)
    x, y = out["sum[spread=15]"]
    np.testing.assert_allclose(x.sum(1), y, atol=1e-4)
    assert abs(x[:, 0].std() - 15) < 0.5
    x, y = out["distractors[k=5]"]
    np.testing.assert_array_equal(x[:, 0], y)
    assert np.abs(np.corrcoef(x.T)[0, 1:]).max() < 0.03
    x, y = out["double[offset=1]"]
    np.testing.assert_allclose(x[:, 1], -y - 1, atol=1e-6)
    x, y = out["double_mistakes[offset=0,rate=0.2]"]
    mistakes = ~np.isclose(x[:, 1], -y)
    assert abs(mistakes.mean() - 0.2) < 0.01
    x, y = out["double_noisy[noise=0.2]"]
    np.testing.assert_array_equal(x[:, 1], y)
    assert abs((x[:, 0] - y).std() - 0.2) < 0.01
    x, y = out["sum_distractor[noise=0.2]"]
    np.testing.assert_allclose(x[:, 1] + x[:, 2], y, atol=1e-5)
    assert abs((x[:, 0] - y).std() - 0.2) < 0.01
    x, y = out["continuity"]
    flag = y < 0
    np.testing.assert_array_equal(x[:, 0], flag.astype(np.float32))
    np.testing.assert_array_equal(x[flag, 1], y[flag])
    np.testing.assert_array_equal(x[~flag, 2], y[~flag])


@pytest.mark.parametrize("task", ALL_TASKS, ids=task_name)
def test_generators_chunk_invariant(task):
    """Drawing 7 + 13 samples gives exactly the rows of drawing 20: chunking never changes the data."""
    whole = sample(task, 20, streams())
    a_s = streams()
    parts = [sample(task, 7, a_s), sample(task, 13, a_s)]
    np.testing.assert_array_equal(np.concatenate([parts[0][0], parts[1][0]]), whole[0])
    np.testing.assert_array_equal(np.concatenate([parts[0][1], parts[1][1]]), whole[1])


def test_expand_tasks_grid_and_errors():
    tasks = expand_tasks([{"generator": "scale_shift", "scale": [0.1, 1], "shift": [0, 5]}, {"generator": "constant"}])
    assert [task_name(t) for t in tasks] == [
        "scale_shift[scale=0.1,shift=0]",
        "scale_shift[scale=0.1,shift=5]",
        "scale_shift[scale=1,shift=0]",
        "scale_shift[scale=1,shift=5]",
        "constant",
    ]
    with pytest.raises(ValueError, match="listed twice"):
        expand_tasks([{"generator": "constant"}, {"generator": "constant"}])
    with pytest.raises(ValueError, match="unknown task generator 'nope'"):
        resolve_task({"generator": "nope"})
    with pytest.raises(ValueError, match="no parameter"):
        resolve_task({"generator": "sum", "scale": 2})
