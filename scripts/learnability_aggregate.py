"""Rule learnability_aggregate: mean, sd and a 95% CI over seeds of every task, step, input and metric."""

from featurelab.studies.learnability.analysis import summarize
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.scripting import run


def main(smk) -> None:
    record = read_provenance(smk.input[0]) | {"rule": smk.rule}
    write_table(summarize(read_frame(smk.input[0])), smk.output[0], record)


run(main, snakemake)  # noqa: F821
