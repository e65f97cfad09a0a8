"""learnability - notebook 002: which input features a small MLP (8 ReLU units, MSE, Adam 1e-3) picks up
from inputs built from a target y ~ N(0, 1), and how fast.

Method: for each task family (the notebook's cells: 'run all', the scale x shift loop, simplicity,
distractors, easier-but-worse features) and each seed, train every task of the family as one batched
model on fresh samples (batch size 1 by default), recording the training loss, a held-out MSE, the steps
until the running loss falls below a threshold, and the final input-gradient attribution of every input;
aggregate over seeds; turn the notebook's comments into a claims table; plot.
"""

from featurelab.studies.learnability import figure_names

#: Families in config order (the aggregated table keeps it); everything else reads the sorted section.
LN_FAMILIES = list(config["learnability"]["families"])
LN = sorted_config(config["learnability"])
LN_RUNS = expand(
    "results/learnability/{family}/seed{seed}", family=LN_FAMILIES, seed=LN["seeds"]
)
LN_FIGURE_NAMES = figure_names(LN["families"])
LN_FIGURES = register_figures(
    "learnability", LN_FIGURE_NAMES, "results/learnability/summary.parquet", LN
)
LN_FIGURES += register_claims_figure("learnability", LN["claims"])
#: Rule-level (not global) so that other studies' wildcards of the same name are unaffected.
LN_FAMILY_REGEX = one_of(LN_FAMILIES)


rule learnability_train:
    """Train every task of one family as one batched model for one seed; record the loss curves, the
    held-out MSE, the per-step training losses and the input-gradient attribution of every input.
    """
    output:
        model="results/learnability/{family}/seed{seed}/model.pt",
        metrics="results/learnability/{family}/seed{seed}/metrics.parquet",
        losses="results/learnability/{family}/seed{seed}/losses.npz",
    log:
        f"{LOGS}/learnability/train/{{family}}_seed{{seed}}.log",
    wildcard_constraints:
        family=LN_FAMILY_REGEX,
    cache: OUTPUT_CACHE
    conda:
        CONDA_ENV
    threads: training_threads("learnability")
    resources:
        **training_resources("learnability"),
    params:
        step=step("learnability.train:train_job"),
        family=entry_of(LN["families"], "family"),
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
        figure=one_of(LN_FIGURE_NAMES),
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
