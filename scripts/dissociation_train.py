"""Rule dissociation_train: train one seed's MLP on MNIST and record per-epoch metrics.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import load_arrays, save_torch, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.dissociation import train_run
from featurelab.training import checkpoint_every, checkpoint_path


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    seed = int(smk.wildcards.seed)
    columns, state = train_run(seed, load_arrays(smk.input.mnist), smk.params.model, smk.params.training, device,
                               checkpoint_to=checkpoint_path(smk.output.metrics),
                               checkpoint_every=checkpoint_every(smk.config))
    config = {"model": dict(smk.params.model), "training": dict(smk.params.training), "device": smk.params.device,
              "seed": seed}
    record = provenance(config, rule=smk.rule, resolved_device=device, threads=smk.threads)
    save_torch({"state_dict": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    logging.info("trained seed %d on %s in %.1f s", seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
