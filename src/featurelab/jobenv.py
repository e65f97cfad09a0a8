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
