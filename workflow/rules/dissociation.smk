"""dissociation - Braun, Grant & Saxe (ICML 2025), "Not all solutions are created equal: an analytical
dissociation of functional and representational similarity in deep linear neural networks".

Method: train a bias-free ReLU MLP (784-1024-1024-10) on MNIST, one job per seed. Manipulate its second
hidden layer without changing its function (scale neurons, duplicate neurons, add nuisance neurons) and
perturb its first layer inside the null space of the test images; check that each manipulation preserves
the network's outputs; measure each network's test error under input noise and under parameter noise,
and how well a rotation probe on its second hidden layer transfers; aggregate over seeds; test the
paper's claims; plot.
"""

DS = sorted_config(config["dissociation"])
DS_RUNS = expand("results/dissociation/seed{seed}", seed=DS["seeds"])
DS_TABLES = {"summary": "results/dissociation/summary.parquet"}
DS_FIGURE_TABLES = figures_of("dissociation")
DS_FIGURES = register_figures("dissociation", DS_FIGURE_TABLES, DS_TABLES, DS)
DS_FIGURES += register_claims_figure("dissociation", DS["claims"])


rule dissociation_train:
    """Train the MLP with SGD (linearly decaying learning rate), recording loss and test error per epoch."""
    input:
        mnist=rules.mnist_prepare.output[0],
    output:
        model="results/dissociation/seed{seed}/model.pt",
        metrics="results/dissociation/seed{seed}/training.parquet",
    log:
        f"{LOGS}/dissociation/train/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("dissociation")
    resources:
        **training_resources("dissociation"),
    params:
        step=step("dissociation.train:train_job"),
        model=DS["model"],
        training=DS["training"],
        device=config["device"],
        cache_key=cache_key("dissociation"),
    script:
        STEP_SCRIPT


rule dissociation_evaluate:
    """Manipulate the trained network; exactness on the test images; test error under input noise and
    under parameter noise, batched over networks and noise scales."""
    input:
        mnist=rules.mnist_prepare.output[0],
        model=rules.dissociation_train.output.model,
    output:
        "results/dissociation/seed{seed}/evaluation.parquet",
    log:
        f"{LOGS}/dissociation/evaluate/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/dissociation/evaluate/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    threads: training_threads("dissociation")
    resources:
        **training_resources("dissociation"),
    params:
        step=step("dissociation.train:evaluate_job"),
        manipulations=DS["manipulations"],
        evaluation=DS["evaluation"],
        device=config["device"],
    script:
        STEP_SCRIPT


rule dissociation_transfer:
    """10-fold cross-validated rotation probe on the second hidden layer against sample budget."""
    input:
        mnist=rules.mnist_prepare.output[0],
        model=rules.dissociation_train.output.model,
    output:
        "results/dissociation/seed{seed}/transfer.parquet",
    log:
        f"{LOGS}/dissociation/transfer/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/dissociation/transfer/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    threads: training_threads("dissociation")
    resources:
        **training_resources("dissociation"),
    params:
        step=step("dissociation.train:transfer_job"),
        manipulations=DS["manipulations"],
        transfer=DS["transfer"],
        device=config["device"],
    script:
        STEP_SCRIPT


rule dissociation_aggregate:
    """All seeds in one long table, and mean, sd and 95% CI over seeds."""
    input:
        training=expand("{run}/training.parquet", run=DS_RUNS),
        evaluation=expand("{run}/evaluation.parquet", run=DS_RUNS),
        transfer=expand("{run}/transfer.parquet", run=DS_RUNS),
    output:
        runs="results/dissociation/runs.parquet",
        summary="results/dissociation/summary.parquet",
    log:
        f"{LOGS}/dissociation/aggregate.log",
    benchmark:
        f"{BENCH}/dissociation/aggregate.tsv"
    group:
        "dissociation_summary"
    conda:
        CONDA_ENV
    params:
        step=step("dissociation.analysis:aggregate_job"),
    script:
        STEP_SCRIPT


rule dissociation_claims:
    """The paper's claims, each judged over seeds: estimate, one-sided 95 % bounds, threshold, verdict."""
    input:
        runs=rules.dissociation_aggregate.output.runs,
    output:
        table="results/dissociation/claims.parquet",
        text="results/dissociation/claims.md",
        html=report(
            "results/dissociation/claims.html",
            caption="../report/claims.rst",
            category="dissociation",
            labels={"table": "claims"},
        ),
    log:
        f"{LOGS}/dissociation/claims.log",
    group:
        "dissociation_summary"
    conda:
        CONDA_ENV
    params:
        step=step("dissociation.claims:evaluate"),
        claims=DS["claims"],
    script:
        CLAIMS_SCRIPT


rule dissociation_figure:
    """One figure (PDF + PNG) drawn from the aggregated table only."""
    input:
        summary=rules.dissociation_aggregate.output.summary,
    output:
        pdf="figures/dissociation/{figure}.pdf",
        png=report(
            "figures/dissociation/{figure}.png",
            caption="../report/dissociation.rst",
            category="dissociation",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/dissociation/figure_{{figure}}.log",
    wildcard_constraints:
        figure=one_of(DS_FIGURE_TABLES),
    group:
        "dissociation_summary"
    conda:
        CONDA_ENV
    params:
        step=step("dissociation.figures:draw"),
        figures=config["figures"],
        band=DS["plot"]["band"],
    script:
        FIGURE_SCRIPT


rule dissociation_all:
    """Manifest of the study's figures: path, sha256, source table, config hash."""
    input:
        figures=figure_files(DS_FIGURES),
        claims=rules.dissociation_claims.output.table,
        claims_html=rules.dissociation_claims.output.html,  # the report shows it
    output:
        "figures/dissociation/all",
    log:
        f"{LOGS}/dissociation/manifest.log",
    group:
        "dissociation_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={stem: FIGURES[stem] for stem in DS_FIGURES},
    script:
        "../../scripts/manifest.py"
