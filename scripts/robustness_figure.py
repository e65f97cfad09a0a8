"""The script of rule robustness_figure: a study's sweep table drawn as the region figure (PDF + PNG); see
:func:`featurelab.robustness_figure.figure_job`."""

from featurelab.robustness_figure import figure_job
from featurelab.scripting import run

run(figure_job, snakemake)  # noqa: F821 (injected by Snakemake)
