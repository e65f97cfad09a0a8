"""Rule learnability_aggregate: every run's metrics in one table, and mean with a 95% CI over seeds."""

import pandas as pd

from featurelab.analysis.learnability import summarize
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    runs = pd.concat([read_frame(path) for path in smk.input], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input]
    record = provenance({"runs": [{"family": p["config"]["family_name"], "seed": p["config"]["seed"],
                                   "config_hash": p["config_hash"]} for p in inputs]}, rule=smk.rule)
    write_table(runs, smk.output.runs, record)
    write_table(summarize(runs), smk.output.summary, record)


run(main, snakemake)  # noqa: F821
