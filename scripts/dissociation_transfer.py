"""Rule dissociation_transfer: rotation-probe transfer error of one seed's networks against sample budget."""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import load_arrays, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.dissociation import transfer_run


def main(smk) -> None:
    import torch

    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    seed = int(smk.wildcards.seed)
    state = torch.load(smk.input.model, map_location="cpu", weights_only=True)["state_dict"]
    cfg = {"manipulations": dict(smk.params.manipulations), "transfer": dict(smk.params.transfer)}
    columns = transfer_run(seed, state, load_arrays(smk.input.mnist), cfg, device)
    write_table(table_from_columns(columns), smk.output[0],
                provenance({**cfg, "seed": seed}, rule=smk.rule, resolved_device=device, threads=smk.threads))
    logging.info("transfer of seed %d on %s in %.1f s", seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
