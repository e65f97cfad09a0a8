"""figures/all: the manifest of every figure of every configured study; the libraries of the interactive
figures."""


rule figures_all:
    """One manifest over all studies (rows of each study's manifest, concatenated), and the run's summary:
    every study's verdicts with their intervals and its jobs' logged CPU time (the report's front page).
    """
    input:
        manifests=expand("figures/{study}/all", study=config["studies"]),
        claims=expand("results/{study}/claims.parquet", study=config["studies"]),
    output:
        manifest="figures/all",
        summary="results/summary.md",
    log:
        f"{LOGS}/figures_all.log",
    # A second-long manifest: on a cluster it runs on the submitting host, not as a job of its own (the
    # rule's own flag: a `localrules:` list would miss the rule renamed by a module import).
    localrule: True
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest_all.py"),
        logs=LOGS,
    script:
        "../../scripts/manifest_all.py"


rule report_vega_bundle:
    """Vega, Vega-Lite and Vega-Embed as one JavaScript file (vl-convert's bundle, a few seconds): every
    interactive figure of the report inlines it, so each page opens offline."""
    output:
        VEGA_BUNDLE,
    log:
        f"{LOGS}/report_vega_bundle.log",
    # runs once per workflow, on the submitting host on a cluster (no GPU, no data: not worth a job)
    localrule: True
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/vega_bundle.py"),
    script:
        "../../scripts/vega_bundle.py"
