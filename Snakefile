"""featurelab: the figures of the toy-model studies of feature learning, from one config.

snakemake --cores 8 figures/all                 # every figure of every configured study
snakemake --cores 8 figures/complexity/all      # one study
snakemake --cores 8 figures/complexity/variance_curves.pdf   # one figure
"""

import os
import sys

# Jobs and this process import featurelab from this clone's src/, whatever is installed: a workflow run
# always uses the code next to its Snakefile (and a cluster job needs no install of the package).
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)

from featurelab.jobenv import use_source_tree

use_source_tree(SRC)

from featurelab.config import ConfigError, study_names, validate_config


configfile: os.path.join(workflow.basedir, "config.yaml")


SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
try:
    validate_config(
        config,
        SCHEMA,
        cache_file=os.path.join(".snakemake", "featurelab", "config_validated.json"),
    )
except ConfigError as error:
    raise WorkflowError(str(error)) from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/mnist.smk"


# One rule file per study, for every study the schema lists (its `studies` enum).
for study in study_names(SCHEMA):

    include: f"workflow/rules/{study}.smk"


include: "workflow/rules/report.smk"


# Every rule has hashed its code by now: keep the per-file analyses for the next run.
CODE.save_cache()


rule all:
    default_target: True
    input:
        "figures/all",
