"""complexity - Lampinen, Chan & Hermann (2024), "Learned feature representations are biased by
complexity, learning order, position, and more".

Method: for each pair of binary features (an easy, linear one and a hard one) and each seed, generate
train / representation-fit / test splits; train an MLP on both features (one job per seed holds every
pair, so torch starts once per seed); after every epoch measure each feature's accuracy and the share
of the penultimate layer's variance its label explains; normalise the variance curves by the final
total variance and aggregate over seeds (one job for every run: the normalisation is a table join, far
cheaper than a process per run); test the paper's claims; plot.
"""

from featurelab.studies.complexity.train import pair_names

CX = sorted_config(config["complexity"])
CX_PAIRS = pair_names(CX["feature_pairs"])
CX_RUNS = expand(
    "results/complexity/{pair}/seed{seed}", pair=CX_PAIRS, seed=CX["seeds"]
)
CX_TABLES = {
    "summary": "results/complexity/summary.parquet",
    "runs": "results/complexity/runs.parquet",
}
CX_FIGURE_TABLES = figures_of("complexity")
CX_FIGURES = register_figures("complexity", CX_FIGURE_TABLES, CX_TABLES, CX)
CX_FIGURES += register_claims_figure("complexity", CX["claims"])


rule complexity_dataset:
    """Binary-feature splits of every pair for one seed: train, representation-fit and test."""
    output:
        **outputs_per(
            "pair",
            CX_PAIRS,
            dataset="results/complexity/{pair}/seed{{seed}}/dataset.npz",
        ),
    log:
        f"{LOGS}/complexity/dataset/seed{{seed}}.log",
    wildcard_constraints:
        seed=r"\d+",
    cache: OUTPUT_CACHE
    group:
        "complexity_datasets"
    conda:
        CONDA_ENV
    params:
        step=step("complexity.train:dataset_job"),
        pairs=CX_PAIRS,
        dataset=CX["dataset"],
        cache_key=cache_key(),
    script:
        STEP_SCRIPT


rule complexity_train:
    """Train the MLP on both features of every pair, one after another, evaluating after every epoch."""
    input:
        rules.complexity_dataset.output,
    output:
        **outputs_per(
            "pair",
            CX_PAIRS,
            model="results/complexity/{pair}/seed{{seed}}/model.pt",
            metrics="results/complexity/{pair}/seed{{seed}}/metrics.parquet",
        ),
    log:
        f"{LOGS}/complexity/train/seed{{seed}}.log",
    wildcard_constraints:
        seed=r"\d+",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("complexity")
    resources:
        **training_resources("complexity"),
    params:
        step=step("complexity.train:train_job"),
        pairs=CX_PAIRS,
        model=CX["model"],
        training=CX["training"],
        device=config["device"],
        cache_key=cache_key("complexity"),
    script:
        STEP_SCRIPT


rule complexity_aggregate:
    """Every run's normalised variance curves (R2_t * TV_t / TV_final) in one table, and the mean with a
    95% confidence interval over seeds."""
    input:
        expand("{run}/metrics.parquet", run=CX_RUNS),
    output:
        runs="results/complexity/runs.parquet",
        summary="results/complexity/summary.parquet",
    log:
        f"{LOGS}/complexity/aggregate.log",
    benchmark:
        f"{BENCH}/complexity/aggregate.tsv"
    group:
        "complexity_summary"
    conda:
        CONDA_ENV
    params:
        step=step("complexity.analysis:aggregate_job"),
    script:
        STEP_SCRIPT


rule complexity_claims:
    """The paper's claims, each judged over seeds: estimate, one-sided 95 % bounds, threshold, verdict."""
    input:
        runs=rules.complexity_aggregate.output.runs,
    output:
        table="results/complexity/claims.parquet",
        text="results/complexity/claims.md",
        html=report(
            "results/complexity/claims.html",
            caption="../report/claims.rst",
            category="complexity",
            labels={"table": "claims"},
        ),
    log:
        f"{LOGS}/complexity/claims.log",
    group:
        "complexity_summary"
    conda:
        CONDA_ENV
    params:
        step=step("complexity.claims:evaluate"),
        claims=CX["claims"],
    script:
        CLAIMS_SCRIPT


rule complexity_figure:
    """One figure (PDF + PNG) drawn from the aggregated tables only (mean over seeds, and every seed)."""
    input:
        summary=rules.complexity_aggregate.output.summary,
        runs=rules.complexity_aggregate.output.runs,
    output:
        pdf="figures/complexity/{figure}.pdf",
        png=report(
            "figures/complexity/{figure}.png",
            caption="../report/complexity.rst",
            category="complexity",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/complexity/figure_{{figure}}.log",
    wildcard_constraints:
        figure=one_of(CX_FIGURE_TABLES),
    group:
        "complexity_summary"
    conda:
        CONDA_ENV
    params:
        step=step("complexity.figures:draw"),
        figures=config["figures"],
    script:
        FIGURE_SCRIPT


rule complexity_interactive:
    """Interactive (Vega-Lite) versions of the curve figures for the report, from the same tables: every
    seed's line has its own legend entry (a click picks it), values on hover. One job writes every page.
    """
    input:
        summary=rules.complexity_aggregate.output.summary,
        runs=rules.complexity_aggregate.output.runs,
        bundle=VEGA_BUNDLE,
    output:
        variance_curves=report(
            "figures/complexity/variance_curves.html",
            caption="../report/interactive/complexity_variance_curves.rst",
            category="complexity",
            labels={"figure": "variance_curves (interactive)"},
        ),
        accuracy_curves=report(
            "figures/complexity/accuracy_curves.html",
            caption="../report/interactive/complexity_accuracy_curves.rst",
            category="complexity",
            labels={"figure": "accuracy_curves (interactive)"},
        ),
    log:
        f"{LOGS}/complexity/interactive.log",
    group:
        "complexity_summary"
    conda:
        CONDA_ENV
    params:
        step=step("complexity.interactive:interactive_job"),
    script:
        STEP_SCRIPT


rule complexity_all:
    """Manifest of the study's figures: path, sha256, source table, config hash."""
    input:
        figures=figure_files(CX_FIGURES),
        claims=rules.complexity_claims.output.table,
        claims_html=rules.complexity_claims.output.html,  # the report shows it
        # built with the manifest, for the report; not listed in it (the manifest is the PDF + PNG figures)
        interactive=rules.complexity_interactive.output,
    output:
        "figures/complexity/all",
    log:
        f"{LOGS}/complexity/manifest.log",
    group:
        "complexity_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={stem: FIGURES[stem] for stem in CX_FIGURES},
    script:
        "../../scripts/manifest.py"
