"""The script of every figure rule: the study's ``draw(figure, tables, params)``, saved as PDF + PNG.

``params: step=step("complexity.figures:draw")`` names the study's function; see
:func:`featurelab.plotting.figure_job` for what it is given.
"""

import importlib

from featurelab.plotting import figure_job
from featurelab.scripting import run

module, function = snakemake.params.step["entry"].split(":")  # noqa: F821 (injected by Snakemake)
draw = getattr(importlib.import_module(f"featurelab.studies.{module}"), function)
run(lambda smk: figure_job(smk, draw), snakemake)  # noqa: F821
