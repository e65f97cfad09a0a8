"""Rule superposition_hidden: the frozen classifier's 49 hidden activations of the train and test images.

NumPy only (no torch import): the job is a single matrix product per split.
"""

import json

import numpy as np

from featurelab.io import load_arrays, save_arrays
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.superposition.train import hidden_activations_numpy, select_examples


def main(smk) -> None:
    data = select_examples(load_arrays(smk.input.mnist), int(smk.params.data["n_train"]), int(smk.params.data["n_test"]))
    state = load_arrays(smk.input.model)
    with np.load(smk.input.model) as f:
        upstream = json.loads(str(f["_provenance"]))
    arrays = {f"h_{split}": hidden_activations_numpy(state, data[f"x_{split}"])[0] for split in ("train", "test")}
    config = {"data": dict(smk.params.data), "classifier": upstream.get("config"), "seed": int(smk.wildcards.seed)}
    save_arrays(smk.output[0], provenance(config, rule=smk.rule), **arrays)


run(main, snakemake)  # noqa: F821
