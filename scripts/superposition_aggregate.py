"""Rule superposition_aggregate: every seed's tables in one, and means with 95% CIs over seeds."""

import pandas as pd

from featurelab.studies.superposition.summary import summarize, summarize_wtw
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    def cat(paths):
        return pd.concat([read_frame(p) for p in paths], ignore_index=True)

    training = cat([*smk.input.classifier, *smk.input.autoencoder])
    features, wtw = cat(smk.input.features), cat(smk.input.wtw)
    runs = [read_provenance(p) for p in smk.input.features]
    record = provenance(runs[0]["config"] | {"seed": None}, rule=smk.rule,
                        runs=[{"seed": r["config"]["seed"], "config_hash": r["config_hash"]} for r in runs])
    write_table(training, smk.output.training, record)
    write_table(features, smk.output.features, record)
    write_table(wtw, smk.output.wtw, record)
    write_table(summarize(training, features), smk.output.summary, record)
    write_table(summarize_wtw(wtw), smk.output.wtw_summary, record)


run(main, snakemake)  # noqa: F821
