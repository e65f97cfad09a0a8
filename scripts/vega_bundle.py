"""Rule report_vega_bundle: the Vega libraries every interactive figure inlines (featurelab.interactive)."""

from featurelab.interactive import bundle_job
from featurelab.scripting import run

run(bundle_job, snakemake)  # noqa: F821
