"""featurelab: the figures of the toy-model studies of feature learning, from one config.

The workflow lives in workflow/Snakefile (the Snakemake workflow catalog's layout); this file lets
`snakemake` run from the repository root as well:

snakemake --cores 8 figures/all                 # every figure of every configured study
snakemake --cores 8 figures/complexity/all      # one study
snakemake --cores 8 figures/complexity/variance_curves.pdf   # one figure
"""


include: "workflow/Snakefile"


# Snakemake honours `default_target` only in the Snakefile it was started with, so a bare `snakemake`
# at the root builds what the workflow's own `rule all` names.
rule default:
    default_target: True
    input:
        rules.all.input,
