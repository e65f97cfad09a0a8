"""The learnability study's training: steps to the loss threshold, deterministic and batch-independent
families, the threshold rows of the runs table; the per-seed run (every distinct task trained once, for
its largest budget; a shorter family read off it at its own budget), its plan and width groups."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import default_config

#: A small training regime: 30 steps an epoch; eval_every does not divide the budgets, so a family's
#: budget is also a row of its curves.
TRAINING = {
    "learning_rate": 1e-2,
    "batch_size": 2,
    "steps_per_epoch": 30,
    "eval_every": 20,
    "n_eval": 32,
    "n_attribution": 16,
}
MODEL = {"hidden": 8}
#: ``constant`` is in all three families (budgets 30 and 90 steps); ``sum[spread=1]`` in ``long`` and
#: ``same`` (both 90); ``distractors[k=2000]`` is wide enough to get a batched group of its own.
SHORT = {"epochs": 1, "tasks": [{"generator": "constant"}, {"generator": "distractors", "k": 6}]}
LONG = {
    "epochs": 3,
    "tasks": [
        {"generator": "constant"},
        {"generator": "sum", "spread": [1, 15]},
        {"generator": "distractors", "k": 2000},
    ],
}
SAME = {"epochs": 3, "tasks": [{"generator": "sum", "spread": 1.0}, {"generator": "constant"}]}
FAMILIES = {"short": SHORT, "long": LONG, "same": SAME}
#: Float32 rounding: the shared run pads a task to its group's width and evaluates it in a batch of other
#: instances, so matmuls and means sum in another order than a family trained alone (differences seen:
#: below 1e-6); each instance's arithmetic is otherwise the same (test_model: padded instances train
#: exactly like separate networks), so a real difference (another step, sample or budget) is far larger.
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def seed_run():
    torch.set_num_threads(1)
    from featurelab.studies.learnability.train import train_seed

    return train_seed(FAMILIES, 3, MODEL, TRAINING, "cpu")


def _rows(columns: dict, condition: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(columns).drop(columns="family")
    return frame if condition is None else frame[frame["condition"] == condition].reset_index(drop=True)


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


def test_default_plan_trains_each_distinct_task_once_for_its_largest_budget():
    """The default families: 66 tasks, 55 distinct (run_all's 10 all reappear in longer families,
    distractors[k=2] is in distractors and features); budgets 4,000 / 8,000 / 16,000 steps."""
    from featurelab.studies.learnability.data import expand_tasks, task_name
    from featurelab.studies.learnability.plan import plan_seed

    ln = default_config()["learnability"]
    plan = plan_seed(ln["families"], ln["training"])
    names = [inst.name for inst in plan.instances]
    n_tasks = sum(len(expand_tasks(f["tasks"])) for f in ln["families"].values())
    assert n_tasks == 66 and len(names) == len(set(names)) == 55
    assert plan.budgets == [4000, 8000, 16000] and plan.total == 16000
    views = plan.families
    assert views["run_all"].budget == 4000
    assert all(plan.instances[i].budget > 4000 for i in views["run_all"].instances)
    k2 = [task_name(t) for t in views["distractors"].tasks].index("distractors[k=2]")
    assert views["distractors"].instances[k2] in views["features"].instances
    assert plan.instances[views["distractors"].instances[k2]].budget == 16000
    for view in views.values():  # each family's tasks, in its order, map to instances of the same name
        assert [task_name(t) for t in view.tasks] == [names[i] for i in view.instances]
    assert [len(g) for g in plan.groups] == [52, 3]  # widths <= 20 | 50, 100, 1000 (padded to 1000)


def test_width_groups_are_the_cheapest_contiguous_split():
    from featurelab.studies.learnability.plan import width_groups

    assert width_groups([1] * 50 + [1000], overhead=5000) == [range(0, 50), range(50, 51)]
    assert width_groups([1, 2, 3], overhead=5000) == [range(0, 3)]
    assert width_groups([1, 1, 2], overhead=0) == [range(0, 2), range(2, 3)]  # one width never splits

    def cost(bounds, widths, overhead):
        return sum(overhead + (b - a) * widths[b - 1] for a, b in zip(bounds, bounds[1:]))

    rng = np.random.default_rng(0)
    for _ in range(30):
        widths = sorted(rng.choice([1, 2, 3, 10, 50, 100, 1000], size=int(rng.integers(1, 9))).tolist())
        overhead = int(rng.choice([0, 100, 5000]))
        groups = width_groups(widths, overhead)
        got = cost([0] + [g.stop for g in groups], widths, overhead)
        cuts = [i for i in range(1, len(widths)) if widths[i] != widths[i - 1]]
        best = min(
            cost([0, *c, len(widths)], widths, overhead)
            for r in range(len(cuts) + 1)
            for c in itertools.combinations(cuts, r)
        )
        assert got == best


def test_shared_task_is_trained_once(monkeypatch):
    """One network per distinct task: constant (3 families) and sum[spread=1] (2, one spelling 1.0) are
    built once; a task that two families read at the same budget has bit-identical rows in both."""
    from featurelab.studies.learnability import model
    from featurelab.studies.learnability.train import train_seed

    built: list[list[int]] = []
    init = model.BatchedMLP.__init__

    def spy(self, input_dims, *args, **kwargs):
        built.append(list(input_dims))
        init(self, input_dims, *args, **kwargs)

    monkeypatch.setattr(model.BatchedMLP, "__init__", spy)
    runs = train_seed(FAMILIES, 3, MODEL, TRAINING, "cpu")
    assert sorted(d for dims in built for d in dims) == [1, 2, 2, 6, 2000]  # 5 distinct of 8 tasks
    assert len(built) == 2  # two width groups: {1, 2, 6} and {2000}
    long, same = _rows(runs["long"][0], "sum[spread=1]"), _rows(runs["same"][0], "sum[spread=1]")
    pd.testing.assert_frame_equal(long.drop(columns="params"), same.drop(columns="params"))
    assert set(same["params"]) == {'{"spread": 1.0}'} and set(long["params"]) == {'{"spread": 1}'}
    i, j = (
        list(runs["long"][2]["conditions"]).index("sum[spread=1]"),
        list(runs["same"][2]["conditions"]).index("sum[spread=1]"),
    )
    np.testing.assert_array_equal(runs["long"][2]["losses"][:, i], runs["same"][2]["losses"][:, j])


def test_shorter_family_reads_the_longer_run_at_its_budget(seed_run):
    """``short`` (30 steps) shares ``constant`` with ``long`` (90): its per-step losses are the first 30 of
    the long run's, bit for bit (the same run, truncated), and all its numbers (curves up to its budget,
    final held-out MSE at it, attribution and networks from the snapshot at it) match ``short`` trained
    alone for 30 steps, to float32 rounding (RTOL, ATOL)."""
    from featurelab.studies.learnability.train import train_family

    cols, state, per_step = seed_run["short"]
    long_losses = seed_run["long"][2]
    assert per_step["losses"].shape == (30, 2) and long_losses["losses"].shape == (90, 4)
    np.testing.assert_array_equal(per_step["losses"][:, 0], long_losses["losses"][:30, 0])
    assert not np.array_equal(per_step["losses"][:, 0], long_losses["losses"][30:60, 0])

    a_cols, a_state, a_per_step = train_family("short", SHORT, 3, MODEL, TRAINING, "cpu")
    got, alone = pd.DataFrame(cols), pd.DataFrame(a_cols)
    pd.testing.assert_frame_equal(got.drop(columns="value"), alone.drop(columns="value"))
    np.testing.assert_allclose(got["value"], alone["value"], rtol=RTOL, atol=ATOL)
    assert sorted(set(got.loc[got["metric"] == "eval_mse", "step"])) == [0, 20, 30]
    np.testing.assert_allclose(per_step["losses"], a_per_step["losses"], rtol=RTOL, atol=ATOL)
    assert list(per_step["conditions"]) == list(a_per_step["conditions"]) and int(per_step["steps_per_epoch"]) == 30
    assert state["tasks"] == a_state["tasks"] and state["input_dims"] == a_state["input_dims"] == [1, 6]
    for name, params in a_state["instances"].items():
        for key, value in params.items():
            torch.testing.assert_close(state["instances"][name][key], value, rtol=RTOL, atol=ATOL)
    # the snapshot is the network at step 30, not at the end of the long run
    end = seed_run["long"][1]["instances"]["constant"]["0.weight"]
    assert not torch.allclose(state["instances"]["constant"]["0.weight"], end)


def test_longest_family_matches_its_run_alone(seed_run):
    from featurelab.studies.learnability.train import train_family

    cols, _, per_step = seed_run["long"]
    a_cols, _, a_per_step = train_family("long", LONG, 3, MODEL, TRAINING, "cpu")
    np.testing.assert_allclose(pd.DataFrame(cols)["value"], pd.DataFrame(a_cols)["value"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(per_step["losses"], a_per_step["losses"], rtol=RTOL, atol=ATOL)


def test_seed_run_is_deterministic(seed_run):
    """Same config and seed: identical bits (rows, per-step losses, networks)."""
    from featurelab.studies.learnability.train import train_seed

    again = train_seed(FAMILIES, 3, MODEL, TRAINING, "cpu")
    assert list(again) == list(seed_run) == ["short", "long", "same"]
    for family, (cols, state, per_step) in again.items():
        ref_cols, ref_state, ref_per_step = seed_run[family]
        assert cols == ref_cols
        for key in per_step:
            np.testing.assert_array_equal(per_step[key], ref_per_step[key])
        for name, params in state["instances"].items():
            for key, value in params.items():
                assert torch.equal(value, ref_state["instances"][name][key])


def test_divergence_names_the_run_and_the_task():
    from featurelab.studies.learnability.train import train_seed
    from featurelab.training import DivergenceError

    huge = {"epochs": 1, "tasks": [{"generator": "scale_shift", "scale": 1e30, "shift": 0}]}
    with pytest.raises(DivergenceError) as error:
        train_seed({"short": SHORT, "huge": huge}, 0, MODEL, TRAINING, "cpu")
    message = str(error.value)
    assert "study 'learnability', condition 'short+huge', seed 0" in message
    assert "in task(s) scale_shift[scale=1e+30,shift=0] (families huge)" in message


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
