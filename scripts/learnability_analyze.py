"""Rule learnability_analyze: every run's metrics in one table, plus the rows read off its per-step losses
(steps to the loss threshold, epoch-1 peak, final running loss). NumPy and pyarrow only."""

import pyarrow as pa
import pyarrow.parquet as pq

from featurelab.io import load_arrays, read_provenance, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.learnability.train import threshold_columns

IDENTITY = ["condition", "study", "family", "generator", "params", "seed"]


def main(smk) -> None:
    tables, runs = [], []
    for metrics_path, losses_path in zip(smk.input.metrics, smk.input.losses):
        metrics = pq.read_table(metrics_path).replace_schema_metadata(None)
        extra = threshold_columns(metrics.select(IDENTITY).to_pydict(), load_arrays(losses_path), smk.params.analysis)
        tables += [metrics, table_from_columns(extra).cast(metrics.schema)]
        p = read_provenance(metrics_path)
        runs.append({"family": p["config"]["family_name"], "seed": p["config"]["seed"],
                     "config_hash": p["config_hash"]})
    record = provenance({"analysis": dict(smk.params.analysis), "runs": runs}, rule=smk.rule)
    write_table(pa.concat_tables(tables), smk.output[0], record)


run(main, snakemake)  # noqa: F821
