"""Rule figures_all: every study's manifest rows in one file."""

from featurelab.manifest import read_manifest, write_manifest
from featurelab.scripting import run


def main(smk) -> None:
    write_manifest([row for path in smk.input for row in read_manifest(path)], smk.output[0])


run(main, snakemake)  # noqa: F821
