"""Rule complexity_claims: test the paper's claims against the measured runs."""

from featurelab.analysis.complexity import evaluate_claims
from featurelab.io import read_frame, read_provenance
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims)
    config = {"claims": dict(smk.params.claims), "runs": read_provenance(smk.input[0]).get("config")}
    write_claims(smk, claims, config, "complexity: claims of Lampinen, Chan & Hermann (2024)")


run(main, snakemake)  # noqa: F821
