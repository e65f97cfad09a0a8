"""The script of every claims rule: the study's ``evaluate(tables, params)``, written as parquet + markdown.

``params: step=step("complexity.claims:evaluate")`` names the study's function (its module's ``TITLE``
heads the markdown); see :func:`featurelab.claims_report.claims_job` for what it is given.
"""

import importlib

from featurelab.claims_report import claims_job
from featurelab.scripting import run

module, function = snakemake.params.step["entry"].split(":")  # noqa: F821 (injected by Snakemake)
study_claims = importlib.import_module(f"featurelab.studies.{module}")
run(lambda smk: claims_job(smk, getattr(study_claims, function), study_claims.TITLE), snakemake)  # noqa: F821
