"""Atomic writes with provenance, so that no reader ever sees a half-written output.

Each writer writes to a temporary file in the destination folder and renames it into place: a rename
within one file system is atomic, so a crash (or SIGKILL) leaves either the old file, or none, never a
truncated one that a later run would mistake for complete.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

PROVENANCE_KEY = b"featurelab"
#: The member of an ``.npz`` written by :func:`save_arrays` that holds its provenance record.
NPZ_PROVENANCE = "_provenance"


def remove_stale_temporaries(path: str | os.PathLike, suffix: str | None = None) -> None:
    """Delete temporary files that :func:`atomic_path` writers of ``path`` left when they were killed.

    A writer killed by SIGKILL cannot delete its temporary file; the job's rerun (the only writer of
    ``path``) removes such leftovers, so they never pile up next to the results.
    """
    dest = Path(path)
    suffix = suffix or dest.suffix
    for stale in dest.parent.glob(f".{glob.escape(dest.name)}.{'?' * 8}{glob.escape(suffix)}"):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix or dest.suffix
    remove_stale_temporaries(dest, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_table(table: Any, path: str | os.PathLike, provenance: Mapping[str, Any]) -> None:
    """Write a pyarrow Table or a pandas DataFrame to parquet, provenance in the schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):  # a pandas DataFrame
        table = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True, default=str).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


class MetricRows:
    """Long-format rows (one measured value each) collected as flat column lists: cheap to append to in a
    training loop and to turn into a pyarrow table (:func:`table_from_columns`), with no pandas in the
    job. ``fixed`` columns hold one value for every row (the run's study, condition, seed); the others
    come with each row. Callers pass plain Python values (``float(x)``, ``int(step)``), which fix the
    table's column types.
    """

    def __init__(self, columns: Sequence[str], **fixed: Any) -> None:
        unknown = sorted(set(fixed) - set(columns))
        if unknown:
            raise ValueError(f"fixed columns {unknown} are not among {list(columns)}")
        self.columns: dict[str, list] = {name: [] for name in columns}
        self.fixed = fixed

    def add(self, **row: Any) -> None:
        """One row: ``row`` gives every column that is not fixed."""
        for name, column in self.columns.items():
            column.append(row[name] if name in row else self.fixed[name])

    def extend(self, **rows: Any) -> None:
        """Several rows: each of ``rows`` is a list (one value per row, all lists of one length) or a
        single value for all of them."""
        lengths = {len(v) for v in rows.values() if isinstance(v, list)}
        if len(lengths) != 1:
            raise ValueError(f"extend needs lists of one length, got lengths {sorted(lengths)}")
        (n,) = lengths
        for name, column in self.columns.items():
            value = rows[name] if name in rows else self.fixed[name]
            column.extend(value if isinstance(value, list) else [value] * n)


def table_from_columns(columns: Mapping[str, Any]) -> Any:
    """A pyarrow Table from a mapping of column name to array/list (no pandas needed)."""
    import pyarrow as pa

    return pa.table(dict(columns))


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance record of a parquet file written by :func:`write_table` or an ``.npz`` written by
    :func:`save_arrays` (``{}`` when it has none), so that a job reads its inputs' records one way whatever
    format the upstream job wrote."""
    if Path(path).suffix == ".npz":
        return _npz_provenance(path)
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[PROVENANCE_KEY]) if PROVENANCE_KEY in meta else {}


def _npz_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The record :func:`save_arrays` stores as the JSON string array ``NPZ_PROVENANCE``; only that member is
    read (an ``.npz`` is a zip of one file per array)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data[NPZ_PROVENANCE])) if NPZ_PROVENANCE in data.files else {}


def read_frame(path: str | os.PathLike) -> Any:
    """Read a parquet file into pandas."""
    import pandas as pd

    return pd.read_parquet(path)


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_arrays(path: str | os.PathLike, provenance: Mapping[str, Any], **arrays: Any) -> None:
    """Save named NumPy arrays to ``.npz`` atomically, with the provenance record as a JSON string."""
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        record = np.array(json.dumps(provenance, sort_keys=True, default=str))
        np.savez(tmp, **{NPZ_PROVENANCE: record}, **arrays)


def load_arrays(path: str | os.PathLike) -> dict[str, Any]:
    """Load an ``.npz`` written by :func:`save_arrays`; a corrupt file raises an error naming it."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files if k != NPZ_PROVENANCE}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError, OSError...
        raise ValueError(f"cannot read array file {path}: {exc}") from exc


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def step_inputs(smk: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a figure or claims rule's study function gets: the rule's named inputs read as DataFrames, and
    the rule's params but ``step``, with ``params["provenance"]`` each input's provenance record."""
    tables = {name: read_frame(path) for name, path in smk.input.items()}
    params = {k: v for k, v in smk.params.items() if k != "step"}
    params["provenance"] = {name: read_provenance(path) for name, path in smk.input.items()}
    return tables, params
