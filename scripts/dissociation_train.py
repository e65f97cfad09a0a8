"""Rule dissociation_train: train one seed's MLP on MNIST and record per-epoch metrics.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

from featurelab.io import load_arrays, save_torch, table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.dissociation.train import train_run
from featurelab.training import checkpoint_every, checkpoint_path


def main(smk) -> None:
    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    columns, state = train_run(seed, load_arrays(smk.input.mnist), smk.params.model, smk.params.training,
                               job.device, checkpoint_to=checkpoint_path(smk.output.metrics),
                               checkpoint_every=checkpoint_every(smk.config))
    record = job.provenance({"model": dict(smk.params.model), "training": dict(smk.params.training), "seed": seed})
    save_torch({"state_dict": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"trained seed {seed}")


run(main, snakemake)  # noqa: F821
