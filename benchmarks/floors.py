"""The compute floor of every training rule of the default config, beside what the rule measured.

    .venv/bin/python benchmarks/floors.py [--tree DIR] [--repeats 50]

A rule's floor is the CPU time of the work nobody can skip, at the speed this core does it on the rule's own
shapes (one thread, as the jobs run):

* **matrix products**: every product of one optimizer step (forward and backward; the backward of the
  first layer's input is left out because no rule needs it), each timed alone as one ``torch.mm`` /
  ``torch.bmm`` call on the rule's shapes (batched over instances where the rule batches them, padded as
  the batching pads), times the steps; plus the forward passes of the evaluations the figures and claims
  read (complexity: every epoch);
* **optimizer**: featurelab's flat Adam step (or its SGD step, for dissociation) on as many parameters as
  the rule trains (its arithmetic is a few element-wise passes; at small sizes, the calls themselves);
* **random numbers**: the inputs the rule draws per step (geometry and the TMS sweep: one 24-bit integer
  per entry from NumPy's SFC64, :mod:`featurelab.sparse_uniform`), at the measured rate;
* **start-up**: one Python + torch start-up per job (the imports a training job needs, and
  ``configure_torch``), measured in a fresh process.

Element-wise passes (activations, residuals, their backward), Python and autograd dispatch, data
preparation and writing the tables are *not* in the floor: they are what a faster implementation would
remove. So the ratio measured / floor says how much of a rule is overhead; at 1.0 a rule would be its
matrix products and nothing else.

With ``--tree DIR`` (a tree kept by ``benchmarks/workflow_benchmark.py --keep``) the rules' measured CPU
seconds are read from it and set beside the floors. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: A product: (instances, rows, inner, cols); instances 0 = a plain matrix product.
Product = tuple[int, int, int, int]


@dataclass
class Rule:
    """One training rule's work per job: ``steps`` optimizer steps, each a set of ``products`` (a group
    that trains fewer steps adds its own entry to ``more``), an Adam step over ``parameters`` and ``draws``
    random integers; plus ``more``: (calls per job, products) such as evaluations."""

    name: str
    jobs: int
    steps: int
    products: list[Product]
    parameters: int
    draws: int = 0
    more: list[tuple[int, list[Product]]] | None = None
    optimizer: str = "adam"  # the rule's: adam | sgd
    note: str = ""


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls, seconds (the machine's noise only ever adds time)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def product_seconds(products: list[Product], repeats: int) -> float:
    total = 0.0
    for batch, rows, inner, cols in products:
        lead = (batch,) if batch else ()
        left, right = torch.randn(*lead, rows, inner), torch.randn(*lead, inner, cols)
        total += best_of(partial(torch.bmm if batch else torch.mm, left, right), repeats)
    return total


def optimizer_seconds(name: str, parameters: int, repeats: int) -> float:
    from featurelab.optim import make_optimizer

    param = torch.zeros(parameters, requires_grad=True)
    param.grad = torch.randn(parameters)
    return best_of(make_optimizer(name, [param], 1e-3).step, repeats)


def draw_seconds(draws: int, repeats: int) -> float:
    if not draws:
        return 0.0
    bits = np.random.SFC64(0)
    return best_of(lambda: bits.random_raw((draws + 1) // 2), repeats)


def startup_seconds() -> float:
    """CPU seconds of a fresh process importing what a training job imports and configuring torch."""
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'src')!r}); import numpy, pyarrow, torch; "
        "from featurelab.devices import configure_torch; configure_torch(1)"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    times = []
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        before = after
    return min(times)


def mlp_products(widths: list[int], batch: int) -> list[Product]:
    """Forward and backward products of an MLP step (no input gradient for the first layer)."""
    out = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        out.append((0, batch, fan_in, fan_out))  # forward
        out.append((0, fan_in, batch, fan_out))  # weight gradient
        if layer:
            out.append((0, batch, fan_out, fan_in))  # input gradient
    return out


def mlp_forward(widths: list[int], rows: int) -> list[Product]:
    return [(0, rows, a, b) for a, b in zip(widths, widths[1:])]


def tms_products(instances: int, hidden: int, features: int, rows: int) -> list[Product]:
    """The products of one step of :func:`featurelab.tms.relu_output_loss` (forward and backward)."""
    return [
        (instances, hidden, features, rows),  # h^T = W x^T
        (instances, rows, hidden, features),  # out = h W
        (instances, 1, rows * features, 1),  # sum of squares
        (instances, hidden, features, rows),  # d h^T = W dpre^T
        (instances, hidden, rows, features),  # h^T dpre
        (instances, hidden, rows, features),  # d h^T x
    ]


def sweep_rule(name: str, jobs: int, steps: int, instances: int, hidden: int, features: int, batch: int) -> Rule:
    """A TMS sparsity sweep (geometry's, hierarchy's companion): one instance per sparsity, fresh sparse
    inputs every step (one random integer per entry)."""
    return Rule(
        name,
        jobs,
        steps,
        tms_products(instances, hidden, features, batch),
        instances * (hidden * features + features),
        draws=instances * batch * features,
    )


def batched_mlp_products(instances: int, width: int, hidden: int) -> list[Product]:
    """One step of learnability's batched one-hidden-layer MLP at batch size 1."""
    return [
        (instances, 1, width, hidden),
        (instances, 1, hidden, 1),
        (instances, hidden, 1, 1),
        (instances, 1, 1, hidden),
        (instances, width, 1, hidden),
    ]


def rules(config: dict) -> list[Rule]:
    from featurelab.studies.complexity.train import make_splits
    from featurelab.studies.geometry.train import inverse_densities
    from featurelab.studies.hierarchy.data import n_features
    from featurelab.studies.hierarchy.train import tree_instances
    from featurelab.studies.learnability.plan import plan_seed

    out = []
    cx = config["complexity"]
    data = make_splits(cx["feature_pairs"][0], 0, cx["dataset"])
    widths = [data["train_inputs"].shape[1], *cx["model"]["hidden_widths"], len(cx["feature_pairs"][0])]
    n_train, batch = data["train_inputs"].shape[0], int(cx["training"]["batch_size"])
    epochs, pairs = int(cx["training"]["epochs"]), len(cx["feature_pairs"])
    out.append(
        Rule(
            "complexity_train",
            len(cx["seeds"]),
            pairs * epochs * math.ceil(n_train / batch),
            mlp_products(widths, batch),
            sum(a * b + b for a, b in zip(widths, widths[1:])),
            more=[
                (pairs * (epochs + 1), mlp_forward(widths, 2 * int(cx["dataset"]["n_test"]))),
                (pairs, mlp_forward(widths, n_train)),
            ],
            note=f"{pairs} pairs per job, one after another; the test and fit splits evaluated every epoch",
        )
    )
    geo = config["geometry"]
    out.append(
        sweep_rule(
            "geometry_train",
            len(geo["seeds"]),
            int(geo["training"]["steps"]),
            len(inverse_densities(geo["sweep"])),
            int(geo["model"]["n_hidden"]),
            int(geo["model"]["n_features"]),
            int(geo["training"]["batch_size"]),
        )
    )
    hi = config["hierarchy"]
    tree = tree_instances(hi["tree"]["depths"], hi["model"]["n_hidden"])
    n_inst, feats = len(tree.column(int)), max(n_features(d) for d in tree.depths)
    h_max = max(max(w) for w in tree.widths.values())
    out.append(
        Rule(
            "hierarchy_train",
            len(hi["seeds"]),
            int(hi["training"]["steps"]),
            tms_products(n_inst, h_max, feats, feats + 1),
            n_inst * (h_max * feats + feats),
            note=f"{n_inst} (depth, width) instances padded to {h_max} x {feats}, {feats + 1} pattern rows",
        )
    )
    tms = hi["tms"]
    out.append(
        sweep_rule(
            "hierarchy_train_tms",
            len(tms["seeds"]),
            int(tms["training"]["steps"]),
            len(tms["sparsities"]),
            int(tms["n_hidden"]),
            int(tms["n_features"]),
            int(tms["training"]["batch_size"]),
        )
    )
    ln = config["learnability"]
    plan = plan_seed(ln["families"], ln["training"])
    hidden = int(ln["model"]["hidden"])
    groups = [
        (plan.group_budget(g), len(group), plan.instances[group[-1]].width) for g, group in enumerate(plan.groups)
    ]
    out.append(
        Rule(
            "learnability_train",
            len(ln["seeds"]),
            plan.total,
            [],
            sum(n * (width * hidden + 2 * hidden + 1) for _, n, width in groups),
            more=[(budget, batched_mlp_products(n, width, hidden)) for budget, n, width in groups],
            note=f"{len(plan.instances)} distinct tasks in {len(plan.groups)} width groups, batch size 1",
        )
    )
    ds = config["dissociation"]
    n_img = 5000 - int(config["mnist"]["n_test"])
    widths = [784, *ds["model"]["hidden_widths"], 10]
    db = int(ds["training"]["batch_size"])
    out.append(
        Rule(
            "dissociation_train",
            len(ds["seeds"]),
            int(ds["training"]["epochs"]) * math.ceil(n_img / db),
            mlp_products(widths, db),
            sum(a * b for a, b in zip(widths, widths[1:])),
            optimizer="sgd",
        )
    )
    sp = config["superposition"]
    cl, ae = sp["classifier"], sp["autoencoder"]
    cw = [784, int(cl["hidden_units"]), int(cl["n_classes"])]
    aw = [int(cl["hidden_units"]), int(ae["code_dim"]), int(cl["hidden_units"])]
    for name, part, w in (("superposition_classifier", cl, cw), ("superposition_autoencoder", ae, aw)):
        out.append(
            Rule(
                name,
                len(sp["seeds"]),
                int(part["epochs"]) * math.ceil(n_img / int(part["batch_size"])),
                mlp_products(w, int(part["batch_size"])),
                sum(a * b + b for a, b in zip(w, w[1:])),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, help="a tree kept by workflow_benchmark.py --keep: measured CPU-s")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    measured = {}
    if args.tree:
        from workflow_benchmark import per_rule

        measured = per_rule(args.tree)["rule_cpu"]
    startup = startup_seconds()
    print(f"start-up per job: {startup:.2f} CPU-s\n")
    print("| rule | jobs | steps per job | floor per step (ms) | floor CPU-s | measured CPU-s | measured / floor |")
    print("|---|---|---|---|---|---|---|")
    for rule in rules(config):
        products = product_seconds(rule.products, args.repeats)
        optimizer = optimizer_seconds(rule.optimizer, rule.parameters, args.repeats)
        draws = draw_seconds(rule.draws, args.repeats)
        more = sum(calls * product_seconds(group, args.repeats) for calls, group in rule.more or [])
        work = rule.steps * (products + optimizer + draws) + more
        floor = rule.jobs * (work + startup)
        got = measured.get(rule.name)
        ratio, shown = (f"{got / floor:.2f}", f"{got:.0f}") if got else ("-", "-")
        per_step = 1e3 * work / rule.steps
        print(f"| {rule.name} | {rule.jobs} | {rule.steps} | {per_step:.3f} | {floor:.0f} | {shown} | {ratio} |")
        if rule.note:
            print(f"|   ({rule.note}) | | | | | | |")


if __name__ == "__main__":
    main()
