"""Rule superposition_autoencoder: phase 2, compress one seed's 49 hidden activations to 2-D and back,
recording the parameters at the configured epochs. Imports no pandas/matplotlib/scikit-learn."""

import json
import logging
import time

import numpy as np

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import load_arrays, save_arrays, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.superposition import train_autoencoder


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    seed = int(smk.wildcards.seed)
    hidden = load_arrays(smk.input[0])
    with np.load(smk.input[0]) as f:
        upstream = json.loads(str(f["_provenance"]))
    columns, snaps = train_autoencoder(hidden["h_train"][None], hidden["h_test"][None], [seed],
                                       smk.params.autoencoder, device)
    config = {"autoencoder": dict(smk.params.autoencoder), "device": smk.params.device, "seed": seed,
              "hidden": upstream.get("config")}
    record = provenance(config, rule=smk.rule, resolved_device=device, threads=smk.threads)
    save_arrays(smk.output.snapshots, record, **{k: v[0] if k != "epochs" else v for k, v in snaps.items()})
    write_table(table_from_columns(columns), smk.output.metrics, record)
    logging.info("autoencoder seed %d on %s: %.1f s", seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
