"""Helpers shared by every study's rules: config access, target lists, resources, the figure registry."""

from featurelab.code_closure import CodeIndex
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


#: The featurelab code each rule's script reaches (featurelab.code_closure), with the per-file analysis
#: cached in the working directory's .snakemake/ so that building the DAG does not re-parse unchanged code.
CODE = CodeIndex(
    os.path.join(workflow.basedir, "src"),
    cache_file=os.path.join(".snakemake", "featurelab", "code_closure.json"),
)


def code_hash(script):
    """Hash of the code a rule's script runs (the script and the featurelab code it reaches), for the
    rule's `params: code=...`: Snakemake's params trigger then reruns the rule's jobs when that code
    changes, which its script-mtime check alone does not see. `script` is relative to the Snakefile.
    """
    return CODE.code_hash(
        os.path.join(workflow.basedir, script), relative_to=workflow.basedir
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
