"""Rule learnability_claims: each comment of notebook 002 as a measured, judged claim."""

from featurelab.analysis.learnability import evaluate_claims
from featurelab.io import read_frame, read_provenance
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims, float(smk.params.loss_threshold))
    config = {"claims": dict(smk.params.claims), "loss_threshold": smk.params.loss_threshold,
              "runs": read_provenance(smk.input[0]).get("config")}
    write_claims(smk, claims, config, "learnability: the comments of notebook 002, measured")


run(main, snakemake)  # noqa: F821
