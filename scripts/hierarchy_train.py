"""Rule hierarchy_train: train every n_hidden of one (tree depth, seed) as one batched TMS model.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.hierarchy import train_depth


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    depth, seed = int(smk.wildcards.depth), int(smk.wildcards.seed)
    p = smk.params
    metrics, weights = train_depth(depth, seed, p.tree, list(p.model["n_hidden"]), p.training, p.evaluation, device)
    config = {"tree": dict(p.tree), "model": dict(p.model), "training": dict(p.training),
              "evaluation": dict(p.evaluation), "device": p.device, "depth": depth, "seed": seed}
    record = provenance(config, rule=smk.rule, resolved_device=device, threads=smk.threads)
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    logging.info("trained depth %d seed %d on %s in %.1f s", depth, seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
