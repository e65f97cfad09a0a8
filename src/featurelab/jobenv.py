"""The environment the workflow's jobs run in.

Every job (local, or on a cluster node through `sbatch --export=ALL`) imports featurelab from the clone
whose Snakefile started it, whatever is installed in the Python that runs the job: the Snakefile calls
`use_source_tree(<clone>/src)` before anything else. It is no environment variable the user must set
(so not one for Snakemake's `envvars:` directive, which asserts that the caller defined it): the workflow
defines it for its jobs.
"""

import os
import sys


def use_source_tree(src):
    """Put `src` first on this process's sys.path and on the PYTHONPATH its jobs inherit (idempotent)."""
    src = os.path.abspath(src)
    if sys.path[:1] != [src]:
        sys.path.insert(0, src)
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([src] + [p for p in current if p != src])
    return os.environ["PYTHONPATH"]


#: The variable Snakemake's between-workflow output cache (`--cache`) reads its folder from.
OUTPUT_CACHE_VARIABLE = "SNAKEMAKE_OUTPUT_CACHE"


def output_cache_on(requested, environ=os.environ):
    """Whether this run uses Snakemake's output cache (`requested`: the run has `--cache`), after checking
    that `$SNAKEMAKE_OUTPUT_CACHE` names an existing folder. Snakemake 9.27.1 only warns when the variable
    is unset and then stops with a traceback at the first cached job; a folder that does not exist fails
    only when the first trained model is stored. Raises ValueError with one line saying what to set."""
    if not requested:
        return False
    folder = environ.get(OUTPUT_CACHE_VARIABLE, "")
    if not folder:
        raise ValueError(f"--cache needs ${OUTPUT_CACHE_VARIABLE} set to the cache folder (a shared, writable one)")
    if not os.path.isdir(folder):
        raise ValueError(f"${OUTPUT_CACHE_VARIABLE} is {folder!r}, which is not a folder: create it first")
    return True
