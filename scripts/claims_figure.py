"""The script of rule claims_figure: a study's claims table as a forest plot (PDF + PNG); see
:func:`featurelab.claims_figure.claims_figure_job`."""

from featurelab.claims_figure import claims_figure_job
from featurelab.scripting import run

run(claims_figure_job, snakemake)  # noqa: F821 (injected by Snakemake)
