"""Rule learnability_train: train every task of one family for one seed as one batched model.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib): start-up is a real share
of a job this short.
"""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import save_arrays, save_torch, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.learnability import train_family


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    family, seed = smk.wildcards.family, int(smk.wildcards.seed)
    columns, state, per_step = train_family(family, smk.params.family, seed, smk.params.model,
                                            smk.params.training, device)
    config = {"family": dict(smk.params.family), "model": dict(smk.params.model),
              "training": dict(smk.params.training), "device": smk.params.device, "family_name": family,
              "seed": seed}
    record = provenance(config, rule=smk.rule, resolved_device=device, threads=smk.threads)
    save_torch({"state": state, "provenance": record}, smk.output.model)
    write_table(table_from_columns(columns), smk.output.metrics, record)
    save_arrays(smk.output.losses, record, **per_step)
    logging.info("trained family %s seed %d (%d tasks) on %s in %.1f s", family, seed, len(state["tasks"]), device,
                 time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
