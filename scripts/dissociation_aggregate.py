"""Rule dissociation_aggregate: every seed's tables in one, and mean/sd/95% CI over seeds."""

import pandas as pd

from featurelab.studies.dissociation.analysis import summarize, transfer_probe
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    paths = [*smk.input.training, *smk.input.evaluation, *smk.input.transfer]
    runs = pd.concat([read_frame(p) for p in paths], ignore_index=True)
    runs = runs.sort_values(["evaluation", "condition", "seed", "metric", "x"], kind="stable").reset_index(drop=True)
    upstream = [read_provenance(p) for p in paths]
    probe = transfer_probe([read_provenance(p) for p in smk.input.transfer])
    record = provenance({"inputs": [{"path": p, "config_hash": u.get("config_hash")} for p, u in zip(paths, upstream)],
                         "transfer_probe": probe}, rule=smk.rule)
    write_table(runs, smk.output.runs, record)
    write_table(summarize(runs), smk.output.summary, record)


run(main, snakemake)  # noqa: F821
