"""Rule mnist_prepare: the MNIST train/test arrays every MNIST study reads."""

import logging

from featurelab.io import save_arrays
from featurelab.mnist import prepare
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    cfg = {**dict(smk.params.mnist), "path": smk.params.path, "verify": smk.params.verify}
    arrays = prepare(cfg)
    save_arrays(
        smk.output[0],
        provenance(dict(smk.params.mnist), rule=smk.rule, n_train=len(arrays["y_train"]), n_test=len(arrays["y_test"])),
        **arrays,
    )
    logging.info("MNIST (%s): %d train, %d test images", cfg["source"], len(arrays["y_train"]), len(arrays["y_test"]))


run(main, snakemake)  # noqa: F821
