"""Rule hierarchy_train: train every n_hidden of one (tree depth, seed) as one batched TMS model.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

from featurelab.io import table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.hierarchy.train import train_depth


def main(smk) -> None:
    job = TorchJob(smk)
    depth, seed = int(smk.wildcards.depth), int(smk.wildcards.seed)
    p = smk.params
    metrics, weights = train_depth(depth, seed, p.tree, p.model, p.training, p.evaluation, job.device)
    record = job.provenance({"tree": dict(p.tree), "model": dict(p.model), "training": dict(p.training),
                             "evaluation": dict(p.evaluation), "depth": depth, "seed": seed})
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    job.done(f"trained depth {depth} seed {seed}")


run(main, snakemake)  # noqa: F821
