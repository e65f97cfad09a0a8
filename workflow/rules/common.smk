"""Helpers shared by every study's rules: config access, target lists, resources, the figure registry."""

from featurelab.code_closure import CodeIndex, study_entry
from featurelab.devices import cuda_visible_cheaply
from featurelab.figure_registry import figures_of
from featurelab.jobenv import output_cache_on
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
    SRC,
    cache_file=os.path.join(".snakemake", "featurelab", "code_closure.json"),
)


def code_hash(script, entries=()):
    """Hash of the code a rule's script runs (the script and the featurelab code it, and the dotted
    `entries`, reach), for the rule's `params: code=...`: Snakemake's params trigger then reruns the
    rule's jobs when that code changes, which its script-mtime check alone does not see. `script` is
    relative to the repository root (ROOT).
    """
    return CODE.code_hash(
        os.path.join(ROOT, script),
        relative_to=ROOT,
        entries=entries,
    )


#: The Vega libraries that every interactive figure (a `<study>_interactive` rule) inlines (rule
#: report_vega_bundle in report.smk).
VEGA_BUNDLE = "results/report/vega_bundle.js"


#: The three scripts every study rule runs (paths relative to workflow/rules/, where the rules live).
STEP_SCRIPT = "../../scripts/step.py"
FIGURE_SCRIPT = "../../scripts/figure.py"
CLAIMS_SCRIPT = "../../scripts/claims.py"


def step(entry):
    """`params: step=step("complexity.train:train_job")`: the study function a rule's job runs
    (featurelab.studies.complexity.train.train_job, called by the rule's generic script), and the hash
    of the code it reaches, so that editing that code reruns the rule's jobs and nothing else. A
    `<study>.figures:` entry runs under scripts/figure.py, a `<study>.claims:` one under
    scripts/claims.py, any other under scripts/step.py.
    """
    role = entry.split(":")[0].rsplit(".", 1)[-1]
    script = {"figures": "scripts/figure.py", "claims": "scripts/claims.py"}.get(
        role, "scripts/step.py"
    )
    return {"entry": entry, "code": code_hash(script, entries=[study_entry(entry)])}


def sorted_config(node):
    """Config sub-tree with sorted keys: Snakemake's params check compares dicts order-sensitively, so
    reordering keys in a config file (or a schema default being filled in) must not rerun jobs. Every
    study's rule file reads its section through this.
    """
    if isinstance(node, dict):
        return {k: sorted_config(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [sorted_config(v) for v in node]
    return node


def entry_of(mapping, wildcard):
    """Input/params function: the entry of `mapping` the job's `wildcard` names (e.g. one task family's
    config for `{family}`)."""
    return lambda wildcards: mapping[wildcards[wildcard]]


def outputs_per(wildcard, values, **templates):
    """Named outputs ``<kind>_<value>`` of a job that holds several conditions (e.g. every pair of one seed):
    each template with ``{<wildcard>}`` filled in and other wildcards kept. Snakemake's output cache stores
    a job with several outputs only when every output is named."""
    return {
        f"{kind}_{value}": template.format(**{wildcard: value})
        for kind, template in templates.items()
        for value in values
    }


def named_inputs(tables, by_figure):
    """Input function for a figure rule: the `tables` (name -> path) that `{figure}` reads
    (`by_figure`: figure -> table names), named so that the figure's `draw` gets them by name.
    """
    return lambda wildcards: {
        name: tables[name] for name in by_figure[wildcards.figure]
    }


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


#: `cache:` of the rules whose outputs Snakemake's between-workflow output cache may keep and share
#: (datasets and training): on when the run has `--cache` (with a plain `True`, every run without it would
#: print one line per rule saying that the rule could be cached).
try:
    OUTPUT_CACHE = output_cache_on(workflow.enable_cache)
except ValueError as error:
    raise WorkflowError(str(error)) from None


#: The device `device` resolves to on this machine (what `auto` becomes), for the output cache's key.
RESOLVED_DEVICE = "cuda" if USES_CUDA else "cpu"


def cache_key(study=None):
    """`params: cache_key=cache_key("complexity")` of the rules marked for the output cache: what
    determines the job's outputs that Snakemake's between-workflow output cache (`--cache`) does not see
    otherwise. Its key (snakemake/caching/hash.py) hashes the script, every param (so the config
    sub-trees and `step`'s code hash), the input files no job makes, the upstream jobs' keys and, with
    `--sdm conda`, the conda env; not the wildcards, so without them every seed of a rule would share one
    entry. With `study` (a torch job), also the torch thread count (`<study>.resources.threads`: another
    count changes the last bits of sums) and the device this machine runs it on (`auto` is CUDA here and
    CPU there, and the two differ in the last bits).
    """
    torch_job = (
        {}
        if study is None
        else {"threads": training_threads(study), "device": RESOLVED_DEVICE}
    )
    return lambda wildcards: {"wildcards": dict(wildcards.items()), **torch_job}


#: Every figure the workflow can draw: path stem -> where it comes from. Filled by the study rule files
#: and written into the manifests (figures/<study>/all and figures/all).
FIGURES = {}


def register_figures(study, names, source, config_subtree):
    """Record the study's figures (`names`) for the manifests; `source` is the table each is drawn
    from: one path for all, or figure -> table names (the first is the source) with `names` the
    table paths by name."""
    if isinstance(names, dict):
        by_figure, tables = names, source
        sources = {name: tables[by_figure[name][0]] for name in by_figure}
    else:
        sources = {name: source for name in names}
    stems = []
    for name, table in sources.items():
        stem = f"figures/{study}/{name}"
        FIGURES[stem] = {
            "study": study,
            "source": table,
            "config_hash": config_hash(config_subtree),
        }
        stems.append(stem)
    return stems


def one_of(names):
    """Wildcard constraint: exactly one of `names`."""
    return "|".join(names)


def subtree(node, keys):
    """The `keys` of a config node (a rule whose job reads only those must not rerun for the others)."""
    return {k: node[k] for k in keys if k in node}


def figure_files(stems):
    return [f"{stem}.{ext}" for stem in stems for ext in ("pdf", "png")]


def register_claims_figure(study, claims_config):
    """Record the study's claims figure (the forest plot of its claims table, made by claims_figure) for the
    manifests; its config hash is the study's `claims:` sub-tree, which sets every threshold.
    """
    return register_figures(
        study, ["claims"], f"results/{study}/claims.parquet", claims_config
    )
