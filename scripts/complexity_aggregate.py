"""Rule complexity_aggregate: concatenate every run's analysis and summarise over seeds."""

import pandas as pd

from featurelab.studies.complexity.analysis import summarize
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    runs = pd.concat([read_frame(path) for path in smk.input], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input]
    shared = {k: v for k, v in inputs[0]["config"].items() if k not in ("pair", "seed")}
    record = provenance(shared, rule=smk.rule, runs=[{"pair": p["config"]["pair"], "seed": p["config"]["seed"],
                                                     "config_hash": p["config_hash"]} for p in inputs])
    write_table(runs, smk.output.runs, record)
    write_table(summarize(runs), smk.output.summary, record)


run(main, snakemake)  # noqa: F821
