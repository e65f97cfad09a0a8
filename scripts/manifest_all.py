"""Rule figures_all: every study's manifest rows in one file, and the run's summary
(:func:`featurelab.summary.write_summary`)."""

from featurelab.manifest import read_manifest, write_manifest
from featurelab.scripting import run
from featurelab.summary import write_summary


def main(smk) -> None:
    write_manifest([row for path in smk.input.manifests for row in read_manifest(path)], smk.output.manifest)
    write_summary(smk.input.claims, smk.params.logs, smk.output.summary)


run(main, snakemake)  # noqa: F821
