"""Rule <study>_all: the study's figure manifest."""

from featurelab.manifest import manifest_rows, write_manifest
from featurelab.scripting import run


def main(smk) -> None:
    write_manifest(manifest_rows(smk.input.figures, smk.params.figures), smk.output[0])


run(main, snakemake)  # noqa: F821
