"""Rule complexity_train: train one (pair, seed) and record per-epoch metrics.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib): start-up is a real share
of a job this short.
"""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import load_arrays, save_torch, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.complexity import parse_pair, train_run
from featurelab.training import checkpoint_every, checkpoint_path


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    pair, seed = parse_pair(smk.wildcards.pair), int(smk.wildcards.seed)
    data = load_arrays(smk.input[0])
    columns, state = train_run(pair, seed, data, smk.params.model, smk.params.training, device,
                               checkpoint_to=checkpoint_path(smk.output.metrics),
                               checkpoint_every=checkpoint_every(smk.config))
    config = {"model": dict(smk.params.model), "training": dict(smk.params.training),
              "device": smk.params.device, "pair": pair, "seed": seed}
    record = provenance(config, rule=smk.rule, resolved_device=device, threads=smk.threads)
    save_torch({"state_dict": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    logging.info("trained %s seed %d on %s in %.1f s", smk.wildcards.pair, seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
