"""Rule complexity_analyze: add the normalised variance curves to one run's metrics."""

from featurelab.studies.complexity.analysis import normalize_variance_curves
from featurelab.io import read_frame, read_provenance, write_table
from featurelab.scripting import run


def main(smk) -> None:
    metrics = read_frame(smk.input[0])
    record = read_provenance(smk.input[0]) | {"rule": smk.rule}
    write_table(normalize_variance_curves(metrics), smk.output[0], record)


run(main, snakemake)  # noqa: F821
