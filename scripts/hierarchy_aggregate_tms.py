"""Rule hierarchy_aggregate_tms: per-feature norms, interference and biases, and W^T W, of the TMS sweep."""

import pandas as pd

from featurelab.studies.hierarchy.analysis import tms_tables
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    weights = pd.concat([read_frame(path) for path in smk.input.weights], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input.weights]
    record = provenance(inputs[0]["config"]["tms"], rule=smk.rule,
                        runs=[{"seed": p["config"]["seed"], "config_hash": p["config_hash"]} for p in inputs])
    losses = pd.concat([read_frame(path) for path in smk.input.metrics], ignore_index=True)
    features, gram = tms_tables(weights, losses)
    write_table(features, smk.output.features, record)
    write_table(gram, smk.output.gram, record)


run(main, snakemake)  # noqa: F821
