"""Claims as regions: every study named in the config's `robustness` section rerun at every point of its
knobs' grid, each point this workflow imported as a module under its own prefix (featurelab.robustness),
every claim judged at every point, and the points' claims tables joined into one table and one region
figure per study."""

from featurelab.robustness import (
    claims_paths,
    grid_points,
    knob_rows,
    write_module_files,
)

try:
    ROBUSTNESS = grid_points(config, SCHEMA)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

#: Each point's whole config, by module name (the generated rule files read it).
ROBUSTNESS_CONFIGS = {p.module: p.config for ps in ROBUSTNESS.values() for p in ps}


for module_file in write_module_files(
    [p for ps in ROBUSTNESS.values() for p in ps],
    os.path.join(ROOT, "workflow", "Snakefile"),
    os.path.join(".snakemake", "featurelab", "robustness"),
):

    include: module_file


rule robustness_table:
    """Every grid point's claims, one row per point x claim, the knob values as columns."""
    input:
        claims=lambda wildcards: claims_paths(ROBUSTNESS[wildcards.study]),
    output:
        table="results/robustness/{study}/claims.parquet",
    log:
        f"{LOGS}/robustness/{{study}}/table.log",
    wildcard_constraints:
        study=one_of(ROBUSTNESS) or "(?!)",
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/robustness_table.py"),
        points=lambda wildcards: knob_rows(ROBUSTNESS[wildcards.study]),
    script:
        "../../scripts/robustness_table.py"


rule robustness_figure:
    """The region figure: claims x grid points, each cell the verdict's colour with its estimate and interval,
    and the headline claim against the knob."""
    input:
        table="results/robustness/{study}/claims.parquet",
    output:
        pdf="figures/robustness/{study}/regions.pdf",
        png=report(
            "figures/robustness/{study}/regions.png",
            caption="../report/robustness.rst",
            category="{study}",
            labels={"figure": "regions (robustness sweep)"},
        ),
    log:
        f"{LOGS}/robustness/{{study}}/figure.log",
    wildcard_constraints:
        study=one_of(ROBUSTNESS) or "(?!)",
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/robustness_figure.py"),
        knobs=lambda wildcards: list(config["robustness"][wildcards.study]["knobs"]),
        headline=lambda wildcards: config["robustness"][wildcards.study].get(
            "headline", ""
        ),
        figures=config["figures"],
    script:
        "../../scripts/robustness_figure.py"


rule robustness_all:
    """Every study's sweep: its table and region figure (`--configfile config/robustness.yaml`)."""
    input:
        tables=expand("results/robustness/{study}/claims.parquet", study=ROBUSTNESS),
        figures=expand(
            "figures/robustness/{study}/regions.{ext}",
            study=ROBUSTNESS,
            ext=("pdf", "png"),
        ),
    output:
        "robustness/all",
    log:
        f"{LOGS}/robustness/all.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={
            stem: FIGURES[stem]
            for study, spec in config.get("robustness", {}).items()
            for stem in register_figures(
                f"robustness/{study}",
                ["regions"],
                f"results/robustness/{study}/claims.parquet",
                spec,
            )
        },
    script:
        "../../scripts/manifest.py"
