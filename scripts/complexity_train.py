"""Rule complexity_train: train one (pair, seed) and record per-epoch metrics.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib): start-up is a real share
of a job this short.
"""

from featurelab.io import load_arrays, save_torch, table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.complexity.train import parse_pair, train_run
from featurelab.training import checkpoint_every, checkpoint_path


def main(smk) -> None:
    job = TorchJob(smk)
    pair, seed = parse_pair(smk.wildcards.pair), int(smk.wildcards.seed)
    columns, state = train_run(pair, seed, load_arrays(smk.input[0]), smk.params.model, smk.params.training,
                               job.device, checkpoint_to=checkpoint_path(smk.output.metrics),
                               checkpoint_every=checkpoint_every(smk.config))
    record = job.provenance({"model": dict(smk.params.model), "training": dict(smk.params.training), "pair": pair,
                             "seed": seed})
    save_torch({"state_dict": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"trained {smk.wildcards.pair} seed {seed}")


run(main, snakemake)  # noqa: F821
