"""Rule complexity_claims: test the paper's claims against the measured runs."""

from featurelab.studies.complexity.analysis import evaluate_claims
from featurelab.io import read_frame
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims)
    write_claims(smk, claims, "complexity: claims of Lampinen, Chan & Hermann (2024)", {"runs": smk.input[0]})


run(main, snakemake)  # noqa: F821
