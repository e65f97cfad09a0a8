"""Rule hierarchy_aggregate: all (depth, seed) runs in one table; every seed's final loss; loss summaries
over seeds; the width each depth needs; the 2-D feature directions for figure (e)."""

import pandas as pd

from featurelab.studies.hierarchy.analysis import directions, seed_finals, summarize, width_needed
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    runs = pd.concat([read_frame(path) for path in smk.input.metrics], ignore_index=True)
    weights = pd.concat([read_frame(path) for path in smk.input.weights], ignore_index=True)
    inputs = [read_provenance(path) for path in smk.input.metrics]
    shared = {k: v for k, v in inputs[0]["config"].items() if k not in ("depth", "seed")}
    analysis = dict(smk.params.analysis)
    record = provenance({**shared, "analysis": analysis}, rule=smk.rule,
                        runs=[{"depth": p["config"]["depth"], "seed": p["config"]["seed"],
                               "config_hash": p["config_hash"]} for p in inputs])
    summary = summarize(runs)
    write_table(runs, smk.output.runs, record)
    write_table(summary, smk.output.summary, record)
    write_table(seed_finals(runs), smk.output.finals, record)
    write_table(width_needed(summary, analysis["metric"], analysis["statistic"], float(analysis["loss_threshold"])),
                smk.output.width_needed, record)
    seed = int(runs["seed"].min())  # figure (e) shows the first seed
    write_table(directions(weights, int(analysis["directions_depth"]), seed), smk.output.directions, record)


run(main, snakemake)  # noqa: F821
