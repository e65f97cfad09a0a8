"""Rule superposition_classifier: phase 1, train the 784 -> 49 -> 10 MNIST classifier of one seed.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

from featurelab.io import load_arrays, save_arrays, table_from_columns, write_table
from featurelab.scripting import TorchJob, run
from featurelab.studies.superposition.train import select_examples, train_classifier


def main(smk) -> None:
    job = TorchJob(smk)
    seed = int(smk.wildcards.seed)
    data = select_examples(load_arrays(smk.input[0]), int(smk.params.data["n_train"]), int(smk.params.data["n_test"]))
    columns, state = train_classifier(data, [seed], smk.params.classifier, job.device)
    record = job.provenance({"data": dict(smk.params.data), "classifier": dict(smk.params.classifier), "seed": seed})
    # NumPy arrays (not a torch pickle) so that the hidden-activation job needs no torch import
    save_arrays(smk.output.model, record, **{k: v.numpy() for k, v in state.items()})
    write_table(table_from_columns(columns), smk.output.metrics, record)
    job.done(f"classifier seed {seed}")


run(main, snakemake)  # noqa: F821
