"""Rule superposition_claims: the notebook's and the issue's claims against the measured runs."""

from featurelab.studies.superposition.summary import evaluate_claims
from featurelab.io import read_frame
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input.training), read_frame(smk.input.features), smk.params.claims,
                             smk.params.importance_mass)
    write_claims(smk, claims, "superposition: claims of notebook 001 (Elhage et al. 2022 on MNIST)",
                 {"runs": smk.input.features}, importance_mass=smk.params.importance_mass)


run(main, snakemake)  # noqa: F821
