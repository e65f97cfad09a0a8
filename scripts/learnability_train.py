"""Rule learnability_train: train every task of one family for one seed as one batched model.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib): start-up is a real share
of a job this short.
"""

from featurelab.io import save_arrays, save_torch, table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.learnability.train import train_family


def main(smk) -> None:
    job = TorchJob(smk)
    family, seed = smk.wildcards.family, int(smk.wildcards.seed)
    columns, state, per_step = train_family(family, smk.params.family, seed, smk.params.model,
                                            smk.params.training, job.device)
    record = job.provenance({"family": dict(smk.params.family), "model": dict(smk.params.model),
                             "training": dict(smk.params.training), "family_name": family, "seed": seed})
    save_torch({"state": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    save_arrays(smk.output.losses, record, **per_step)
    job.done(f"trained family {family} seed {seed} ({len(state['tasks'])} tasks)")


run(main, snakemake)  # noqa: F821
