"""hierarchy - superposition of tree-structured features (reference notebook 004, the ARENA
toy-models-of-superposition exercise extended to hierarchical features).

Method: for each seed, train the TMS model x' = ReLU(W^T W x + b) on the tree's binary features for
every tree depth and hidden width at once (one batched model, an instance per (depth, width)); measure
each instance's loss on fresh samples and exactly; aggregate over seeds; find the smallest width that solves
each depth. Companion: the classic TMS sparsity sweep (20 features, 5 hidden, importance 0.7^i), one
batched run per seed. Test the claims; plot.
"""

HI = sorted_config(config["hierarchy"])
HI_RUNS = expand("results/hierarchy/seed{seed}", seed=HI["seeds"])
HI_TMS_RUNS = expand("results/hierarchy/tms/seed{seed}", seed=HI["tms"]["seeds"])
HI_TABLES = {
    "summary": "results/hierarchy/summary.parquet",
    "finals": "results/hierarchy/finals.parquet",
    "width_needed": "results/hierarchy/width_needed.parquet",
    "directions": "results/hierarchy/directions.parquet",
    "tms_features": "results/hierarchy/tms/features.parquet",
    "tms_gram": "results/hierarchy/tms/gram.parquet",
}
# each figure's manifest entry names the first table it is drawn from
HI_FIGURE_TABLES = figures_of("hierarchy")
HI_FIGURES = register_figures("hierarchy", HI_FIGURE_TABLES, HI_TABLES, HI)
HI_FIGURES += register_claims_figure("hierarchy", HI["claims"])


rule hierarchy_train:
    """Train every n_hidden of every tree depth as one batched model (one seed = one notebook instance)."""
    output:
        metrics="results/hierarchy/seed{seed}/metrics.parquet",
        weights="results/hierarchy/seed{seed}/weights.parquet",
    log:
        f"{LOGS}/hierarchy/train/seed{{seed}}.log",
    wildcard_constraints:
        seed=r"\d+",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("hierarchy")
    resources:
        **training_resources("hierarchy"),
    params:
        step=step("hierarchy.train:train_job"),
        tree=HI["tree"],
        model=HI["model"],
        training=HI["training"],
        evaluation=HI["evaluation"],
        device=config["device"],
        cache_key=cache_key("hierarchy"),
    script:
        STEP_SCRIPT


rule hierarchy_train_tms:
    """The classic TMS sparsity sweep for one seed: every sparsity trained as one batched model."""
    output:
        metrics="results/hierarchy/tms/seed{seed}/metrics.parquet",
        weights="results/hierarchy/tms/seed{seed}/weights.parquet",
    log:
        f"{LOGS}/hierarchy/train_tms/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("hierarchy")
    resources:
        **training_resources("hierarchy"),
    params:
        step=step("hierarchy.train:train_tms_job"),
        # everything but the list of seeds: adding a seed trains only the new seed
        tms={k: v for k, v in HI["tms"].items() if k != "seeds"},
        device=config["device"],
        cache_key=cache_key("hierarchy"),
    script:
        STEP_SCRIPT


rule hierarchy_aggregate:
    """All runs in one table; every seed's final loss; final loss per (depth, n_hidden) over seeds (mean,
    95% CI, min, median, max); the smallest width below the loss threshold per depth; the 2-D directions
    of figure (e).
    """
    input:
        metrics=expand("{run}/metrics.parquet", run=HI_RUNS),
        weights=expand("{run}/weights.parquet", run=HI_RUNS),
    output:
        runs="results/hierarchy/runs.parquet",
        summary=HI_TABLES["summary"],
        finals=HI_TABLES["finals"],
        width_needed=HI_TABLES["width_needed"],
        directions=HI_TABLES["directions"],
    log:
        f"{LOGS}/hierarchy/aggregate.log",
    benchmark:
        f"{BENCH}/hierarchy/aggregate.tsv"
    group:
        "hierarchy_summary"
    conda:
        CONDA_ENV
    params:
        step=step("hierarchy.analysis:aggregate_job"),
        analysis=HI["analysis"],
    script:
        STEP_SCRIPT


rule hierarchy_aggregate_tms:
    """Per feature of the TMS sweep: ||W_i||, interference, bias; and W^T W."""
    input:
        metrics=expand("{run}/metrics.parquet", run=HI_TMS_RUNS),
        weights=expand("{run}/weights.parquet", run=HI_TMS_RUNS),
    output:
        features=HI_TABLES["tms_features"],
        gram=HI_TABLES["tms_gram"],
    log:
        f"{LOGS}/hierarchy/aggregate_tms.log",
    group:
        "hierarchy_summary"
    conda:
        CONDA_ENV
    params:
        step=step("hierarchy.analysis:aggregate_tms_job"),
    script:
        STEP_SCRIPT


rule hierarchy_claims:
    """The notebook's claims and our readings of it, each judged over seeds: estimate, one-sided 95 %
    bounds, threshold, verdict."""
    input:
        runs=rules.hierarchy_aggregate.output.runs,
        summary=rules.hierarchy_aggregate.output.summary,
        width_needed=rules.hierarchy_aggregate.output.width_needed,
        tms_features=rules.hierarchy_aggregate_tms.output.features,
    output:
        table="results/hierarchy/claims.parquet",
        text="results/hierarchy/claims.md",
        html=report(
            "results/hierarchy/claims.html",
            caption="../report/claims.rst",
            category="hierarchy",
            labels={"table": "claims"},
        ),
    log:
        f"{LOGS}/hierarchy/claims.log",
    group:
        "hierarchy_summary"
    conda:
        CONDA_ENV
    params:
        step=step("hierarchy.claims:evaluate"),
        claims=HI["claims"],
        tree=HI["tree"],
        analysis=HI["analysis"],
        tms=subtree(HI["tms"], ("n_hidden", "represented_norm")),
    script:
        CLAIMS_SCRIPT


rule hierarchy_figure:
    """One figure (PDF + PNG) drawn from the aggregated tables only."""
    input:
        unpack(named_inputs(HI_TABLES, HI_FIGURE_TABLES)),
    output:
        pdf="figures/hierarchy/{figure}.pdf",
        png=report(
            "figures/hierarchy/{figure}.png",
            caption="../report/hierarchy.rst",
            category="hierarchy",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/hierarchy/figure_{{figure}}.log",
    wildcard_constraints:
        figure=one_of(HI_FIGURE_TABLES),
    group:
        "hierarchy_summary"
    conda:
        CONDA_ENV
    params:
        step=step("hierarchy.figures:draw"),
        figures=config["figures"],
        analysis=HI["analysis"],
    script:
        FIGURE_SCRIPT


rule hierarchy_interactive:
    """Interactive (Vega-Lite) version of the loss heatmap for the report, from the same tables: each cell's
    loss and every seed's on hover."""
    input:
        summary=HI_TABLES["summary"],
        finals=HI_TABLES["finals"],
        bundle=VEGA_BUNDLE,
    output:
        loss_heatmap=report(
            "figures/hierarchy/loss_heatmap.html",
            caption="../report/interactive/hierarchy_loss_heatmap.rst",
            category="hierarchy",
            labels={"figure": "loss_heatmap (interactive)"},
        ),
    log:
        f"{LOGS}/hierarchy/interactive.log",
    group:
        "hierarchy_summary"
    conda:
        CONDA_ENV
    params:
        step=step("hierarchy.interactive:interactive_job"),
        analysis=subtree(HI["analysis"], ("metric", "statistic")),
    script:
        STEP_SCRIPT


rule hierarchy_all:
    """Manifest of the study's figures: path, sha256, source table, config hash."""
    input:
        figures=figure_files(HI_FIGURES),
        claims=rules.hierarchy_claims.output.table,
        claims_html=rules.hierarchy_claims.output.html,  # the report shows it
        # built with the manifest, for the report; not listed in it (the manifest is the PDF + PNG figures)
        interactive=rules.hierarchy_interactive.output,
    output:
        "figures/hierarchy/all",
    log:
        f"{LOGS}/hierarchy/manifest.log",
    group:
        "hierarchy_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={stem: FIGURES[stem] for stem in HI_FIGURES},
    script:
        "../../scripts/manifest.py"
