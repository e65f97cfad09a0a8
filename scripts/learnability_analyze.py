"""Rule learnability_analyze: steps to the loss threshold and the running-loss finals of one run.

NumPy and pyarrow only: reads the run's per-step training losses and appends the derived rows to its metrics.
"""

import pyarrow as pa
import pyarrow.parquet as pq

from featurelab.io import load_arrays, read_provenance, table_from_columns, write_table
from featurelab.scripting import run
from featurelab.studies.learnability import threshold_columns


def main(smk) -> None:
    metrics = pq.read_table(smk.input.metrics)
    extra = threshold_columns(metrics.select(["condition", "study", "family", "generator", "params", "seed"])
                              .to_pydict(), load_arrays(smk.input.losses), smk.params.analysis)
    table = pa.concat_tables([metrics.replace_schema_metadata(None),
                              table_from_columns(extra).cast(metrics.schema.remove_metadata())])
    record = read_provenance(smk.input.metrics)
    record = record | {"rule": smk.rule, "analysis": dict(smk.params.analysis)}
    write_table(table, smk.output[0], record)


run(main, snakemake)  # noqa: F821
