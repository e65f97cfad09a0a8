"""The script of rule robustness_table: every grid point's claims table joined into one, with the knob values
as columns; see :func:`featurelab.robustness.table_job`."""

from featurelab.robustness import table_job
from featurelab.scripting import run

run(table_job, snakemake)  # noqa: F821 (injected by Snakemake)
