"""Rule dissociation_claims: test the paper's claims against the measured runs."""

from featurelab.studies.dissociation.analysis import evaluate_claims
from featurelab.io import read_frame, read_provenance
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    probe = read_provenance(smk.input[0]).get("config", {}).get("transfer_probe")
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims, probe=probe)
    write_claims(smk, claims, "dissociation: claims of Braun, Grant & Saxe (ICML 2025)", {"runs": smk.input[0]})


run(main, snakemake)  # noqa: F821
