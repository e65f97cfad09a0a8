"""The script of every study rule but the figures and claims: run the study function its rule names.

``params: step=step("complexity.train:train_job")`` (workflow/rules/common.smk) names
``featurelab.studies.complexity.train.train_job``, which gets Snakemake's ``snakemake`` object.
"""

import importlib

from featurelab.scripting import run

module, function = snakemake.params.step["entry"].split(":")  # noqa: F821 (injected by Snakemake)
run(getattr(importlib.import_module(f"featurelab.studies.{module}"), function), snakemake)  # noqa: F821
