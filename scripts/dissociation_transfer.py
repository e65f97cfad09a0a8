"""Rule dissociation_transfer: rotation-probe transfer error of one seed's networks against sample budget."""

from featurelab.scripting import run
from featurelab.studies.dissociation.train import run_seed_job, transfer_record, transfer_run


def main(smk) -> None:
    run_seed_job(smk, transfer_run, ("manipulations", "transfer"), "transfer", record=transfer_record)


run(main, snakemake)  # noqa: F821
