"""Rule superposition_classifier: phase 1, train the 784 -> 49 -> 10 MNIST classifier of one seed.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import load_arrays, save_arrays, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.superposition import select_examples, train_classifier


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    seed = int(smk.wildcards.seed)
    data = select_examples(load_arrays(smk.input[0]), int(smk.params.data["n_train"]), int(smk.params.data["n_test"]))
    columns, state = train_classifier(data, [seed], smk.params.classifier, device)
    config = {"data": dict(smk.params.data), "classifier": dict(smk.params.classifier), "device": smk.params.device,
              "seed": seed}
    record = provenance(config, rule=smk.rule, resolved_device=device, threads=smk.threads)
    # NumPy arrays (not a torch pickle) so that the hidden-activation job needs no torch import
    save_arrays(smk.output.model, record, **{k: v.numpy() for k, v in state.items()})
    write_table(table_from_columns(columns), smk.output.metrics, record)
    logging.info("classifier seed %d on %s: %.1f s", seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
