"""Rule mnist_download: fetch one gzipped IDX file (HTTPS, retries, MD5-verified)."""

from pathlib import Path

from featurelab.mnist import download_file
from featurelab.scripting import run


def main(smk) -> None:
    out = Path(smk.output[0])
    download_file(
        out.name,
        out.parent,
        smk.params.mirrors,
        retries=int(smk.params.retries),
        timeout_s=float(smk.params.timeout_s),
        needed=list(smk.params.needed),
    )


run(main, snakemake)  # noqa: F821
