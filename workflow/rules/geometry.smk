"""geometry - feature dimensionality in uniform superposition (Elhage et al. 2022, "Toy Models of
Superposition", section "Feature Dimensionality").

Method: for each seed, train the ReLU output model x' = ReLU(W^T W x + b) (n = 400 features, m = 30 hidden
dimensions, equal importance) at every sparsity of the sweep at once (one batched model whose instance
dimension is the sparsity); measure each feature's dimensionality D_i and the dimensions per feature
m/||W||_F^2; test the sticky fractions and the fall with sparsity; plot.
"""

GE = sorted_config(config["geometry"])
GE_RUNS = expand("results/geometry/seed{seed}", seed=GE["seeds"])
GE_TABLES = {
    "features": "results/geometry/features.parquet",
    "instances": "results/geometry/instances.parquet",
    "curves": "results/geometry/curves.parquet",
}
# each figure's manifest entry names the first table it is drawn from
GE_FIGURE_TABLES = figures_of("geometry")
GE_FIGURES = register_figures("geometry", GE_FIGURE_TABLES, GE_TABLES, GE)
GE_FIGURES += register_claims_figure("geometry", GE["claims"])


rule geometry_train:
    """Train every sparsity of the sweep as one batched model, for one seed."""
    output:
        weights="results/geometry/seed{seed}/weights.npz",
        losses="results/geometry/seed{seed}/losses.parquet",
    log:
        f"{LOGS}/geometry/train/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("geometry")
    resources:
        **training_resources("geometry"),
    params:
        step=step("geometry.train:train_job"),
        model=GE["model"],
        sweep=GE["sweep"],
        training=GE["training"],
        evaluation=GE["evaluation"],
        device=config["device"],
        cache_key=cache_key("geometry"),
    script:
        STEP_SCRIPT


rule geometry_aggregate:
    """Every seed's D_i per feature and instance, dimensions per feature and losses per instance, and the
    loss curves, in three tables."""
    input:
        weights=expand("{run}/weights.npz", run=GE_RUNS),
        losses=expand("{run}/losses.parquet", run=GE_RUNS),
    output:
        features=GE_TABLES["features"],
        instances=GE_TABLES["instances"],
        curves=GE_TABLES["curves"],
    log:
        f"{LOGS}/geometry/aggregate.log",
    benchmark:
        f"{BENCH}/geometry/aggregate.tsv"
    group:
        "geometry_summary"
    conda:
        CONDA_ENV
    params:
        step=step("geometry.analysis:aggregate_job"),
        analysis=GE["analysis"],
    script:
        STEP_SCRIPT


rule geometry_claims:
    """The paper's claims (sticky fractions; dimensions per feature fall with sparsity), each with its
    precondition, estimate over seeds with one-sided 95 % bounds, threshold and verdict.
    """
    input:
        features=GE_TABLES["features"],
        instances=GE_TABLES["instances"],
    output:
        table="results/geometry/claims.parquet",
        text="results/geometry/claims.md",
        html=report(
            "results/geometry/claims.html",
            caption="../report/claims.rst",
            category="geometry",
            labels={"table": "claims"},
        ),
    log:
        f"{LOGS}/geometry/claims.log",
    group:
        "geometry_summary"
    conda:
        CONDA_ENV
    params:
        step=step("geometry.claims:evaluate"),
        claims=GE["claims"],
        analysis=GE["analysis"],
    script:
        CLAIMS_SCRIPT


rule geometry_figure:
    """One figure (PDF + PNG) drawn from the aggregated tables only."""
    input:
        unpack(named_inputs(GE_TABLES, GE_FIGURE_TABLES)),
    output:
        pdf="figures/geometry/{figure}.pdf",
        png=report(
            "figures/geometry/{figure}.png",
            caption="../report/geometry.rst",
            category="geometry",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/geometry/figure_{{figure}}.log",
    wildcard_constraints:
        figure=one_of(GE_FIGURE_TABLES),
    group:
        "geometry_summary"
    conda:
        CONDA_ENV
    params:
        step=step("geometry.figures:draw"),
        figures=config["figures"],
        analysis=GE["analysis"],
        claims=subtree(
            GE["claims"],
            ("tolerance", "plateau_tolerance", "trained_min_effective_fraction"),
        ),
    script:
        FIGURE_SCRIPT


rule geometry_all:
    """Manifest of the study's figures: path, sha256, source table, config hash."""
    input:
        figures=figure_files(GE_FIGURES),
        claims=rules.geometry_claims.output.table,
        claims_html=rules.geometry_claims.output.html,  # the report shows it
    output:
        "figures/geometry/all",
    log:
        f"{LOGS}/geometry/manifest.log",
    group:
        "geometry_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={stem: FIGURES[stem] for stem in GE_FIGURES},
    script:
        "../../scripts/manifest.py"
