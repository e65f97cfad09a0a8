"""Helpers shared by every study's rules: config access, target lists, resources, the figure registry."""

from featurelab.devices import cuda_visible_cheaply
from featurelab.provenance import config_hash


wildcard_constraints:
    seed=r"\d+",
    pair=r"[a-z_]+(-vs-[a-z_]+)+",


#: Logs and Snakemake benchmark files (runtime, peak RSS) of every job live under results/.
LOGS = "results/logs"
BENCH = "results/benchmarks"

#: The software of every rule, for `snakemake --sdm conda` (relative to workflow/rules/, where the rules
#: live). Without --sdm conda the jobs use the running Python (the .venv of setup.sh).
CONDA_ENV = "../envs/featurelab.yaml"

#: The device the training jobs will use, resolved without importing torch (the DAG must build fast).
#: `auto` means CUDA when this machine has an NVIDIA driver; the job itself re-checks with torch.
USES_CUDA = config["device"] == "cuda" or (
    config["device"] == "auto" and cuda_visible_cheaply()
)


def sorted_config(node):
    """Config sub-tree with sorted keys: Snakemake's params check compares dicts order-sensitively, so
    reordering keys in a config file (or a schema default being filled in) must not rerun jobs.
    """
    if isinstance(node, dict):
        return {k: sorted_config(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [sorted_config(v) for v in node]
    return node


def study_config(study):
    return config[study]


def training_resources(study):
    """Cluster resources of a study's training jobs (config `<study>.resources`); a GPU is requested only
    when CUDA is used. Memory and runtime grow with the attempt, so a job that a cluster killed for
    memory or time is resubmitted (profile `retries`) with twice, then three times as much.
    """
    res = config[study].get("resources", {})
    mem_mb, runtime = res.get("mem_mb", 2000), res.get("runtime_min", 20)
    resources = {
        "mem_mb": lambda wildcards, attempt: mem_mb * attempt,
        "runtime": lambda wildcards, attempt: runtime * attempt,
    }
    if USES_CUDA:
        resources["gpu"] = 1
    return resources


def training_threads(study):
    return config[study].get("resources", {}).get("threads", 1)


#: Every figure the workflow can draw: path stem -> where it comes from. Filled by the study rule files
#: and written into the manifests (figures/<study>/all and figures/all).
FIGURES = {}


def register_figures(study, names, source, config_subtree):
    stems = [f"figures/{study}/{name}" for name in names]
    for stem in stems:
        FIGURES[stem] = {
            "study": study,
            "source": source,
            "config_hash": config_hash(config_subtree),
        }
    return stems


def figure_files(stems):
    return [f"{stem}.{ext}" for stem in stems for ext in ("pdf", "png")]
