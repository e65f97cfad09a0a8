"""featurelab: the figures of five toy-model studies of feature learning, from one config.

    snakemake --cores 8 figures/all                 # every figure of every configured study
    snakemake --cores 8 figures/complexity/all      # one study
    snakemake --cores 8 figures/complexity/variance_curves.pdf   # one figure
"""

import os

from featurelab.config import ConfigError, validate_config


configfile: os.path.join(workflow.basedir, "config.yaml")


try:
    validate_config(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))
except ConfigError as error:
    raise WorkflowError(str(error)) from None


include: "workflow/rules/common.smk"
include: "workflow/rules/mnist.smk"
include: "workflow/rules/complexity.smk"
include: "workflow/rules/hierarchy.smk"
include: "workflow/rules/dissociation.smk"
include: "workflow/rules/superposition.smk"
include: "workflow/rules/learnability.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "figures/all",
    default_target: True
