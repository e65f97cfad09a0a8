"""superposition - Elhage et al. (2022), "Toy Models of Superposition", replicated on MNIST (notebook 001).

Method: train a classifier 784 -> 49 -> 10 on MNIST (one job per seed); take its 49 hidden activations
as features; train an autoencoder 49 -> 2 -> 49 on them (one job per seed), recording its parameters at
the configured epochs; per seed and recorded epoch measure each feature's importance, 2-D direction,
||W_i||, decoder bias, interference and dimensionality, and W_dec W_enc; aggregate over seeds; test the
claims; plot.
"""

SP = sorted_config(config["superposition"])
SP_RUNS = expand("results/superposition/seed{seed}", seed=SP["seeds"])
SP_TABLES = {
    "summary": "results/superposition/summary.parquet",
    "features": "results/superposition/features.parquet",
    "wtw": "results/superposition/wdec_wenc.parquet",
}
SP_FIGURE_TABLES = figures_of("superposition")
SP_FIGURES = register_figures("superposition", SP_FIGURE_TABLES, SP_TABLES, SP)
SP_FIGURES += register_claims_figure("superposition", SP["claims"])


rule superposition_classifier:
    """Phase 1: cross-entropy training of the MNIST classifier (tanh then ReLU hidden layer), Adam."""
    input:
        rules.mnist_prepare.output,
    output:
        model="results/superposition/seed{seed}/classifier.npz",
        metrics="results/superposition/seed{seed}/classifier_metrics.parquet",
    log:
        f"{LOGS}/superposition/classifier/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("superposition")
    resources:
        **training_resources("superposition"),
    params:
        step=step("superposition.train:classifier_job"),
        data=SP["data"],
        classifier=SP["classifier"],
        device=config["device"],
        cache_key=cache_key("superposition"),
    script:
        STEP_SCRIPT


rule superposition_hidden:
    """The frozen classifier's 49 hidden activations of the train and test images (phase 2's data)."""
    input:
        mnist=rules.mnist_prepare.output[0],
        model=rules.superposition_classifier.output.model,
    output:
        "results/superposition/seed{seed}/hidden.npz",
    log:
        f"{LOGS}/superposition/hidden/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    group:
        "superposition_hidden"
    conda:
        CONDA_ENV
    threads: 1
    params:
        step=step("superposition.train:hidden_job"),
        data=SP["data"],
        cache_key=cache_key(),
    script:
        STEP_SCRIPT


rule superposition_autoencoder:
    """Phase 2: MSE autoencoder 49 -> 2 -> 49 (tanh code, tanh+ReLU output), parameters recorded at
    the configured epochs."""
    input:
        rules.superposition_hidden.output,
    output:
        snapshots="results/superposition/seed{seed}/autoencoder.npz",
        metrics="results/superposition/seed{seed}/autoencoder_metrics.parquet",
    log:
        f"{LOGS}/superposition/autoencoder/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("superposition")
    resources:
        **training_resources("superposition"),
    params:
        step=step("superposition.train:autoencoder_job"),
        autoencoder=SP["autoencoder"],
        device=config["device"],
        cache_key=cache_key("superposition"),
    script:
        STEP_SCRIPT


rule superposition_analyze:
    """Per seed and recorded epoch: importance, directions, ||W_i||, bias, interference, dimensionality,
    and W_dec W_enc in importance order."""
    input:
        hidden=rules.superposition_hidden.output[0],
        snapshots=rules.superposition_autoencoder.output.snapshots,
    output:
        features="results/superposition/seed{seed}/features.parquet",
        wtw="results/superposition/seed{seed}/wdec_wenc.parquet",
    log:
        f"{LOGS}/superposition/analyze/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/superposition/analyze/seed{{seed}}.tsv"
    group:
        "superposition_analyses"
    conda:
        CONDA_ENV
    params:
        step=step("superposition.analysis:analyze_job"),
        analysis=SP["analysis"],
    script:
        STEP_SCRIPT


rule superposition_aggregate:
    """All seeds in one table each, and mean with a 95% confidence interval over seeds."""
    input:
        classifier=expand("{run}/classifier_metrics.parquet", run=SP_RUNS),
        autoencoder=expand("{run}/autoencoder_metrics.parquet", run=SP_RUNS),
        features=expand("{run}/features.parquet", run=SP_RUNS),
        wtw=expand("{run}/wdec_wenc.parquet", run=SP_RUNS),
    output:
        training="results/superposition/training.parquet",
        features="results/superposition/features.parquet",
        wtw="results/superposition/wdec_wenc.parquet",
        summary="results/superposition/summary.parquet",
        wtw_summary="results/superposition/wdec_wenc_summary.parquet",
    log:
        f"{LOGS}/superposition/aggregate.log",
    group:
        "superposition_summary"
    conda:
        CONDA_ENV
    params:
        step=step("superposition.analysis:aggregate_job"),
    script:
        STEP_SCRIPT


rule superposition_claims:
    """The notebook's claims, each judged over seeds: estimate, one-sided 95 % bounds, threshold, verdict."""
    input:
        training=rules.superposition_aggregate.output.training,
        features=rules.superposition_aggregate.output.features,
    output:
        table="results/superposition/claims.parquet",
        text="results/superposition/claims.md",
        html=report(
            "results/superposition/claims.html",
            caption="../report/claims.rst",
            category="superposition",
            labels={"table": "claims"},
        ),
    log:
        f"{LOGS}/superposition/claims.log",
    group:
        "superposition_summary"
    conda:
        CONDA_ENV
    params:
        step=step("superposition.claims:evaluate"),
        claims=SP["claims"],
        importance_mass=SP["analysis"]["importance_mass"],
    script:
        CLAIMS_SCRIPT


rule superposition_figure:
    """One figure (PDF + PNG) drawn from the aggregated tables only."""
    input:
        summary=rules.superposition_aggregate.output.summary,
        features=rules.superposition_aggregate.output.features,
        wtw=rules.superposition_aggregate.output.wtw,
    output:
        pdf="figures/superposition/{figure}.pdf",
        png=report(
            "figures/superposition/{figure}.png",
            caption="../report/superposition.rst",
            category="superposition",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/superposition/figure_{{figure}}.log",
    wildcard_constraints:
        figure=one_of(SP_FIGURE_TABLES),
    group:
        "superposition_summary"
    conda:
        CONDA_ENV
    params:
        step=step("superposition.figures:draw"),
        figures=config["figures"],
    script:
        FIGURE_SCRIPT


rule superposition_all:
    """Manifest of the study's figures: path, sha256, source table, config hash."""
    input:
        figures=figure_files(SP_FIGURES),
        claims=rules.superposition_claims.output.table,
        claims_html=rules.superposition_claims.output.html,  # the report shows it
    output:
        "figures/superposition/all",
    log:
        f"{LOGS}/superposition/manifest.log",
    group:
        "superposition_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={stem: FIGURES[stem] for stem in SP_FIGURES},
    script:
        "../../scripts/manifest.py"
