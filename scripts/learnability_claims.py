"""Rule learnability_claims: each comment of notebook 002 as a measured, judged claim."""

from featurelab.studies.learnability.analysis import evaluate_claims
from featurelab.io import read_frame
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims, float(smk.params.loss_threshold))
    write_claims(smk, claims, "learnability: the comments of notebook 002, measured", {"runs": smk.input[0]},
                 loss_threshold=smk.params.loss_threshold)


run(main, snakemake)  # noqa: F821
