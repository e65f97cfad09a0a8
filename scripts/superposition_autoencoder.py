"""Rule superposition_autoencoder: phase 2, compress one seed's 49 hidden activations to 2-D and back,
recording the parameters at the configured epochs. Imports no pandas/matplotlib/scikit-learn."""

import json

import numpy as np

from featurelab.io import load_arrays, save_arrays, table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.superposition.train import train_autoencoder


def main(smk) -> None:
    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    hidden = load_arrays(smk.input[0])
    with np.load(smk.input[0]) as f:
        upstream = json.loads(str(f["_provenance"]))
    columns, snaps = train_autoencoder(hidden["h_train"][None], hidden["h_test"][None], [seed],
                                       smk.params.autoencoder, job.device)
    record = job.provenance({"autoencoder": dict(smk.params.autoencoder), "seed": seed,
                             "hidden": upstream.get("config")})
    save_arrays(smk.output.snapshots, record, **{k: v[0] if k != "epochs" else v for k, v in snaps.items()})
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"autoencoder seed {seed}")


run(main, snakemake)  # noqa: F821
