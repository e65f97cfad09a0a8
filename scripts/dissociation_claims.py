"""Rule dissociation_claims: test the paper's claims against the measured runs."""

from featurelab.analysis.dissociation_summary import evaluate_claims
from featurelab.io import read_frame, read_provenance
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims)
    config = {"claims": dict(smk.params.claims), "runs": read_provenance(smk.input[0]).get("config")}
    write_claims(smk, claims, config, "dissociation: claims of Braun, Grant & Saxe (ICML 2025)")


run(main, snakemake)  # noqa: F821
