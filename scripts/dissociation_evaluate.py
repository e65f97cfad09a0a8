"""Rule dissociation_evaluate: manipulate one seed's network; exactness, input- and parameter-noise curves."""

import logging
import time

from featurelab.devices import configure_torch, resolve_device, torch_threads
from featurelab.io import load_arrays, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.dissociation import evaluate_run


def main(smk) -> None:
    import torch

    start = time.perf_counter()
    configure_torch(torch_threads(smk))
    device = resolve_device(smk.params.device)
    seed = int(smk.wildcards.seed)
    state = torch.load(smk.input.model, map_location="cpu", weights_only=True)["state_dict"]
    cfg = {"manipulations": dict(smk.params.manipulations), "evaluation": dict(smk.params.evaluation)}
    columns = evaluate_run(seed, state, load_arrays(smk.input.mnist), cfg, device)
    write_table(table_from_columns(columns), smk.output[0],
                provenance({**cfg, "seed": seed}, rule=smk.rule, resolved_device=device, threads=smk.threads))
    logging.info("evaluated seed %d on %s in %.1f s", seed, device, time.perf_counter() - start)


run(main, snakemake)  # noqa: F821
