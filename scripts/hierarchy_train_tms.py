"""Rule hierarchy_train_tms: the classic TMS sparsity sweep for one seed, batched over sparsities.

Imports only torch, NumPy and pyarrow (no pandas, scikit-learn or matplotlib).
"""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.hierarchy import train_tms


def main(smk) -> None:
    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    seed = int(smk.wildcards.seed)
    tms = dict(smk.params.tms)
    metrics, weights = train_tms(seed, tms, device)
    record = provenance({"tms": tms, "device": smk.params.device, "seed": seed}, rule=smk.rule,
                        resolved_device=device, threads=smk.threads)
    write_table(table_from_columns(metrics), smk.output.metrics, record)
    write_table(table_from_columns(weights), smk.output.weights, record)
    logging.info("trained the TMS sweep, seed %d, on %s in %.1f s", seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
