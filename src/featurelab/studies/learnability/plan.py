"""Which networks one seed's training job trains, and where each family reads its numbers.

The families share tasks (every task of ``run_all`` reappears in a longer family; ``distractors[k=2]`` is
in both ``distractors`` and ``features``), and a task's training depends only on the task and the seed:
its initial weights, training samples, held-out set and attribution inputs come from streams keyed by
(study, task name, seed, purpose), and the instances of a batched model never interact. So training a
task once, for the largest step budget any family gives it, yields every family's numbers: a family with
a shorter budget reads them off that run at its own budget (losses truncated, held-out MSE up to its
budget, the parameters as they were at its budget).

The distinct tasks (*instances*) are ordered by input width, then name, and split into contiguous
*groups*, one padded batched model each (:func:`width_groups`): padding a 1-input task to the 1000
inputs of ``distractors[k=1000]`` costs more than running a second, narrow model in the same optimizer
step.

NumPy-free and torch-free: plain Python over the config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from featurelab.studies.learnability.data import expand_tasks, input_dim, task_name

#: Per-step cost of one more batched group, in padded inputs (instances x padded width) at batch size 1:
#: a group adds about 0.2 ms of kernel launches to a step, a padded input 40-80 ns (CPU, one thread, the
#: default tasks under load: one group padded to 1000 inputs 2.7-4.8 ms a step, two groups 1.0-1.2 ms, one
#: group per width, eight, 2.1-2.3 ms). Only speed depends on it, and results only by float rounding.
GROUP_OVERHEAD_INPUTS = 5000


@dataclass(frozen=True)
class Instance:
    """One distinct task of a seed's run: the network that trains it, for ``budget`` steps."""

    task: dict[str, Any]
    name: str
    width: int
    budget: int


@dataclass(frozen=True)
class FamilyView:
    """A family's tasks as instances of the seed's run, read at the family's step budget."""

    name: str
    tasks: list[dict[str, Any]]  # the family's own spelling, in its order
    instances: list[int]  # the instance training each task
    budget: int


@dataclass(frozen=True)
class SeedPlan:
    instances: list[Instance]
    families: dict[str, FamilyView]
    groups: list[range]  # contiguous instance ranges, one batched model each

    @property
    def total(self) -> int:
        """Steps of the run: the largest budget of any instance."""
        return max(inst.budget for inst in self.instances)

    @property
    def budgets(self) -> list[int]:
        """The families' budgets, ascending: the steps at which the run keeps a snapshot."""
        return sorted({view.budget for view in self.families.values()})

    def group_budget(self, g: int) -> int:
        """Steps group ``g`` trains for: the largest budget of its instances."""
        return max(self.instances[i].budget for i in self.groups[g])


def family_budget(family_cfg: Mapping[str, Any], training_cfg: Mapping[str, Any]) -> int:
    """A family's step budget: ``epochs x steps_per_epoch``."""
    return int(family_cfg["epochs"]) * int(training_cfg["steps_per_epoch"])


def task_key(task: Mapping[str, Any]) -> str:
    """Identity of a task across families: generator and parameter values, numbers as floats (``scale: 1``
    in one family and ``scale: 1.0`` in another is one task). The name alone is not enough: it rounds
    parameters to 6 significant digits."""
    values = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in task.items()}
    return json.dumps(values, sort_keys=True)


def plan_seed(families_cfg: Mapping[str, Mapping[str, Any]], training_cfg: Mapping[str, Any]) -> SeedPlan:
    """Every distinct task of ``families_cfg`` once, with the largest budget any family gives it."""
    tasks: dict[str, dict[str, Any]] = {}
    budget: dict[str, int] = {}
    keyed: dict[str, tuple[list[dict[str, Any]], list[str], int]] = {}
    for family, cfg in families_cfg.items():
        family_tasks, steps = expand_tasks(list(cfg["tasks"])), family_budget(cfg, training_cfg)
        keys = [task_key(t) for t in family_tasks]
        for key, task in zip(keys, family_tasks):
            tasks.setdefault(key, task)
            budget[key] = max(budget.get(key, 0), steps)
        keyed[family] = (family_tasks, keys, steps)
    order = sorted(tasks, key=lambda k: (input_dim(tasks[k]), task_name(tasks[k]), k))
    index = {key: i for i, key in enumerate(order)}
    instances = [Instance(tasks[k], task_name(tasks[k]), input_dim(tasks[k]), budget[k]) for k in order]
    families = {
        family: FamilyView(family, family_tasks, [index[k] for k in keys], steps)
        for family, (family_tasks, keys, steps) in keyed.items()
    }
    return SeedPlan(instances, families, width_groups([inst.width for inst in instances]))


def width_groups(widths: list[int], overhead: int = GROUP_OVERHEAD_INPUTS) -> list[range]:
    """Split instances sorted by input width into contiguous groups, each padded to its widest member,
    minimising ``groups x overhead + sum over groups of (instances x padded width)``: the per-step cost of
    one optimizer step over all groups. Instances of one width always share a group. Exact (dynamic
    programming over the group boundaries)."""
    n = len(widths)
    if any(a > b for a, b in zip(widths, widths[1:])):
        raise ValueError("width_groups needs widths in ascending order")
    cuts = [i for i in range(1, n) if widths[i] != widths[i - 1]] + [n]
    best = {0: (0, [])}  # end of the grouped prefix -> (cost, boundaries)
    for end in cuts:
        best[end] = min(
            (best[start][0] + overhead + (end - start) * widths[end - 1], best[start][1] + [end])
            for start in [0, *cuts]
            if start < end and start in best
        )
    bounds = [0, *best[n][1]]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]
