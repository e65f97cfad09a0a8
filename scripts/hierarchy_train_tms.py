"""Rule hierarchy_train_tms: the classic TMS sparsity sweep for one seed, batched over sparsities.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

from featurelab.io import table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.hierarchy.train import train_tms


def main(smk) -> None:
    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    tms = dict(smk.params.tms)
    metrics, weights = train_tms(seed, tms, job.device)
    record = job.provenance({"tms": tms, "seed": seed})
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    job.done(f"trained the TMS sweep, seed {seed},")


run(main, snakemake)  # noqa: F821
