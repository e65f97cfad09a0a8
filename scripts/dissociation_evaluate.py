"""Rule dissociation_evaluate: manipulate one seed's network; exactness, input- and parameter-noise curves."""

from featurelab.scripting import run
from featurelab.studies.dissociation.train import evaluate_run, run_seed_job


def main(smk) -> None:
    run_seed_job(smk, evaluate_run, ("manipulations", "evaluation"), "evaluation")


run(main, snakemake)  # noqa: F821
