"""Rule superposition_claims: the notebook's and the issue's claims against the measured runs."""

from featurelab.analysis.superposition_summary import evaluate_claims
from featurelab.io import read_frame, read_provenance
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input.training), read_frame(smk.input.features), smk.params.claims,
                             smk.params.importance_mass)
    config = {"claims": dict(smk.params.claims), "importance_mass": smk.params.importance_mass,
              "runs": read_provenance(smk.input.features).get("config")}
    write_claims(smk, claims, config, "superposition: claims of notebook 001 (Elhage et al. 2022 on MNIST)")


run(main, snakemake)  # noqa: F821
