"""featurelab: the figures of the toy-model studies of feature learning, from one config.

The workflow lives in workflow/Snakefile (the Snakemake workflow catalog's layout); this file lets
`snakemake` run from the repository root as well:

snakemake --cores 8 figures/all                 # every figure of every configured study
snakemake --cores 8 figures/complexity/all      # one study
snakemake --cores 8 figures/complexity/variance_curves.pdf   # one figure
"""


include: "workflow/Snakefile"


# Snakemake restores the including file's default target after an include, so the `default_target` of
# workflow/Snakefile's rule all does not reach this file: without a target, `snakemake` here builds the
# same files as there.
rule default:
    default_target: True
    input:
        rules.all.input,
