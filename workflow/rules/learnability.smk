"""learnability - notebook 002: which input features a small MLP (8 ReLU units, MSE, Adam 1e-3) picks up
from inputs built from a target y ~ N(0, 1), and how fast.

Method: for each seed, train every distinct task of the task families (the notebook's cells: 'run all',
the scale x shift loop, simplicity, distractors, easier-but-worse features) once, as instances of a few
batched models, on fresh samples (batch size 1 by default), for the largest step budget any family gives
it; read each family's numbers at its own budget: the training loss, a held-out MSE, the steps until the
running loss falls below a threshold, and the input-gradient attribution of every input; aggregate over
seeds; turn the notebook's comments into a claims table; plot.
"""

from featurelab.studies.learnability import task_generators

#: Families in config order (the aggregated table keeps it); everything else reads the sorted section.
LN_FAMILIES = list(config["learnability"]["families"])
LN = sorted_config(config["learnability"])
LN_RUNS = expand(
    "results/learnability/{family}/seed{seed}", family=LN_FAMILIES, seed=LN["seeds"]
)
LN_TABLES = {"summary": "results/learnability/summary.parquet"}
LN_FIGURE_TABLES = figures_of("learnability", task_generators(LN["families"]))
LN_FIGURES = register_figures("learnability", LN_FIGURE_TABLES, LN_TABLES, LN)
LN_FIGURES += register_claims_figure("learnability", LN["claims"])


rule learnability_train:
    """Train, for one seed, every distinct task of all families once: each task is an instance of a
    batched MLP (instances grouped by input width, every group stepped by one Adam), trained on fresh
    samples for the largest step budget any family gives the task. A task's initial weights and samples
    depend only on the task and the seed, so a family with a shorter budget reads its numbers off that
    run at its own budget: the per-step training losses up to it, the held-out MSE curve up to it and at
    it, and the input-gradient attribution of every input from a snapshot of the networks taken when
    training passes it. Writes each family's loss curves, held-out MSE, per-step training losses and
    attribution.
    """
    output:
        **outputs_per(
            "family",
            LN_FAMILIES,
            model="results/learnability/{family}/seed{{seed}}/model.pt",
            metrics="results/learnability/{family}/seed{{seed}}/metrics.parquet",
            losses="results/learnability/{family}/seed{{seed}}/losses.npz",
        ),
    log:
        f"{LOGS}/learnability/train/seed{{seed}}.log",
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("learnability")
    resources:
        **training_resources("learnability"),
    params:
        step=step("learnability.train:train_job"),
        families=LN["families"],
        model=LN["model"],
        training=LN["training"],
        device=config["device"],
        cache_key=cache_key("learnability"),
    script:
        STEP_SCRIPT


rule learnability_analyze:
    """All runs in one table, with the steps until each task's running training loss falls below the
    threshold and its epoch-1 peak read off the saved per-step losses (one cheap job: editing the
    threshold never retrains)."""
    input:
        metrics=expand("{run}/metrics.parquet", run=LN_RUNS),
        losses=expand("{run}/losses.npz", run=LN_RUNS),
    output:
        "results/learnability/runs.parquet",
    log:
        f"{LOGS}/learnability/analyze.log",
    benchmark:
        f"{BENCH}/learnability/analyze.tsv"
    group:
        "learnability_analyses"
    conda:
        CONDA_ENV
    params:
        step=step("learnability.train:analyze_job"),
        analysis=LN["analysis"],
    script:
        STEP_SCRIPT


rule learnability_aggregate:
    """Mean with a 95% confidence interval over seeds."""
    input:
        rules.learnability_analyze.output,
    output:
        "results/learnability/summary.parquet",
    log:
        f"{LOGS}/learnability/aggregate.log",
    benchmark:
        f"{BENCH}/learnability/aggregate.tsv"
    group:
        "learnability_summary"
    conda:
        CONDA_ENV
    params:
        step=step("learnability.analysis:aggregate_job"),
    script:
        STEP_SCRIPT


rule learnability_claims:
    """The notebook's comments as claims, each judged over seeds: estimate, one-sided 95 % bounds,
    threshold, verdict."""
    input:
        runs=rules.learnability_analyze.output[0],
    output:
        table="results/learnability/claims.parquet",
        text="results/learnability/claims.md",
        html=report(
            "results/learnability/claims.html",
            caption="../report/claims.rst",
            category="learnability",
            labels={"table": "claims"},
        ),
    log:
        f"{LOGS}/learnability/claims.log",
    group:
        "learnability_summary"
    conda:
        CONDA_ENV
    params:
        step=step("learnability.claims:evaluate"),
        claims=LN["claims"],
        loss_threshold=LN["analysis"]["loss_threshold"],
    script:
        CLAIMS_SCRIPT


rule learnability_figure:
    """One figure (PDF + PNG) drawn from the aggregated table only."""
    input:
        summary=rules.learnability_aggregate.output[0],
    output:
        pdf="figures/learnability/{figure}.pdf",
        png=report(
            "figures/learnability/{figure}.png",
            caption="../report/learnability.rst",
            category="learnability",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/learnability/figure_{{figure}}.log",
    wildcard_constraints:
        figure=one_of(LN_FIGURE_TABLES),
    group:
        "learnability_summary"
    conda:
        CONDA_ENV
    params:
        step=step("learnability.figures:draw"),
        figures=config["figures"],
        claims=LN["claims"],
    script:
        FIGURE_SCRIPT


rule learnability_all:
    """Manifest of the study's figures: path, sha256, source table, config hash."""
    input:
        figures=figure_files(LN_FIGURES),
        claims=rules.learnability_claims.output.table,
        claims_html=rules.learnability_claims.output.html,  # the report shows it
    output:
        "figures/learnability/all",
    log:
        f"{LOGS}/learnability/manifest.log",
    group:
        "learnability_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/manifest.py"),
        figures={stem: FIGURES[stem] for stem in LN_FIGURES},
    script:
        "../../scripts/manifest.py"
