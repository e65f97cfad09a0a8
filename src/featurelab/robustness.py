"""Claims as regions: a study rerun at every point of a grid over one or two of its config knobs, and
every claim judged at every point.

A claim is tested at one point of its settings, and the papers say that point is not the whole story
(Lampinen et al.: the representation biases "depend on architecture, optimizer and training regime").
The ``robustness`` section of a config names, per study, knobs as dotted config paths with their values
(and optionally a ``base`` overlay every point shares, e.g. fewer seeds); the workflow then runs the study
at every grid point **with its own rules**: each point is this workflow imported as a Snakemake
``module`` with the point's config and ``prefix: results/robustness/<study>/points/<point>``. A module's
name must be a literal in the Snakefile, so :func:`write_module_files` writes a two-statement rule file
per point that the workflow ``include``\\s. The point whose study config equals the main run's is not a
module: its claims are the main run's own ``results/<study>/claims.parquet``, trained once for both.

Bad input stops before any job, with one line naming it: an unknown knob path, a knob the study does not
read (outside its section and the shared sections it reads), or a value the study's schema or checks
reject (the point's whole config is validated as a run's is).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featurelab.config import ConfigError, merged_over, validate_config

#: Config sections other than its own that a study's results depend on (a knob may name them).
SHARED_READS: dict[str, tuple[str, ...]] = {"dissociation": ("mnist",), "superposition": ("mnist",)}
#: Columns of ``results/robustness/<study>/claims.parquet`` besides the claims table's and the knobs'.
POINT_COLUMNS = ("study", "point", "default_point")


@dataclass(frozen=True)
class GridPoint:
    """One point of a study's grid: its knob values, its whole config, and where its outputs are."""

    study: str
    index: int
    name: str
    knobs: tuple[tuple[str, Any], ...]
    config: dict
    is_default: bool

    @property
    def module(self) -> str:
        """The Snakemake module's name (a Python identifier)."""
        return f"robustness_{self.study}_{self.index}"

    @property
    def prefix(self) -> str:
        return f"results/robustness/{self.study}/points/{self.name}"

    @property
    def claims_path(self) -> str:
        """The point's claims table: the main run's for the default point, the module's otherwise."""
        own = f"results/{self.study}/claims.parquet"
        return own if self.is_default else f"{self.prefix}/{own}"


def get_path(config: Mapping, path: str) -> Any:
    """The value at dotted ``path``; KeyError when a key on the way is missing."""
    node: Any = config
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(path)
        node = node[key]
    return node


def set_path(config: dict, path: str, value: Any) -> None:
    """Set the value at dotted ``path`` (every key on the way exists)."""
    *parents, leaf = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[leaf] = copy.deepcopy(value)


def reads(config: Mapping, study: str) -> dict:
    """What the study's results depend on: its section, the shared sections it reads, the device."""
    return {key: config.get(key) for key in (study, *SHARED_READS.get(study, ()), "device")}


def value_text(value: Any) -> str:
    """A knob value in a folder name: a list's items joined by ``+`` (``[[linear, xor_xor_xor]]`` ->
    ``linear+xor_xor_xor``)."""
    if isinstance(value, list | tuple):
        return "+".join(value_text(v) for v in value)
    return str(value)


def point_name(study: str, knobs: Iterable[tuple[str, Any]]) -> str:
    """A folder name for the point: ``training.optimizer=sgd,training.learning_rate=0.1`` (paths relative
    to the study's section; characters a path or a shell would trip on become ``-``)."""
    parts = []
    for path, value in knobs:
        short = path[len(study) + 1 :] if path.startswith(f"{study}.") else path
        parts.append(f"{short}={value_text(value)}")
    return re.sub(r"[^A-Za-z0-9._=,+-]", "-", ",".join(parts))


def check_knob(study: str, path: str, config: Mapping) -> None:
    """Raise :class:`ConfigError` unless ``path`` is a key of ``config`` the study reads."""
    key = f"robustness.{study}.knobs"
    allowed = (study, *SHARED_READS.get(study, ()))
    if path.split(".")[0] not in allowed:
        raise ConfigError(
            f"invalid config: config key '{key}': knob '{path}' is not read by study {study} (it reads "
            f"{', '.join(f'{a}.*' for a in allowed)})"
        )
    try:
        get_path(config, path)
    except KeyError:
        raise ConfigError(f"invalid config: config key '{key}': knob '{path}' is not a key of the config") from None


def study_points(study: str, spec: Mapping, main: dict, schema_path: str | Path) -> list[GridPoint]:
    """Every point of one study's grid, validated, in the order of the knobs' values (first knob slowest)."""
    knobs: dict[str, list] = dict(spec["knobs"])
    base = merged_over(main, dict(spec.get("base", {})))
    for path in knobs:
        check_knob(study, path, base)
    points = []
    for index, values in enumerate(itertools.product(*knobs.values())):
        pairs = tuple(zip(knobs, values))
        config = copy.deepcopy(base)
        config["studies"] = [study]
        for path, value in pairs:
            set_path(config, path, value)
        name = point_name(study, pairs)
        try:
            validate_config(config, schema_path)
        except ConfigError as error:
            message = str(error).removeprefix("invalid config: ")
            raise ConfigError(
                f"invalid config: config key 'robustness.{study}.knobs': grid point {name}: {message}"
            ) from None
        points.append(GridPoint(study, index, name, pairs, config, reads(config, study) == reads(main, study)))
    return points


def grid_points(config: Mapping, schema_path: str | Path) -> dict[str, list[GridPoint]]:
    """Every study's grid points from the config's ``robustness`` section (empty without one)."""
    section = config.get("robustness") or {}
    main = {key: value for key, value in config.items() if key != "robustness"}
    for study, spec in section.items():
        for key in spec.get("base", {}):
            if key not in (study, *SHARED_READS.get(study, ())):
                raise ConfigError(
                    f"invalid config: config key 'robustness.{study}.base.{key}': study {study} does not read '{key}'"
                )
    return {study: study_points(study, spec, main, schema_path) for study, spec in section.items()}


MODULE_FILE = """\
# Grid point {name} of study {study} (featurelab.robustness.write_module_files): this workflow as a module
# with the point's config, every output under {prefix}/.


module {module}:
    snakefile:
        {snakefile!r}
    config:
        ROBUSTNESS_CONFIGS[{module!r}]
    prefix:
        {prefix!r}


use rule * from {module} as {module}_*
"""


def write_module_files(points: Iterable[GridPoint], snakefile: str, folder: str | Path) -> list[str]:
    """One rule file per non-default point (rewritten only when its text changes); their absolute paths."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for point in points:
        if point.is_default:
            continue
        text = MODULE_FILE.format(
            name=point.name, study=point.study, module=point.module, prefix=point.prefix, snakefile=snakefile
        )
        path = folder / f"{point.module}.smk"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(str(path))
    return paths


def claims_paths(points: Iterable[GridPoint]) -> list[str]:
    """The points' claims tables, in grid order (the default point's is the main run's)."""
    return [p.claims_path for p in points]


def knob_rows(points: Iterable[GridPoint]) -> list[dict[str, Any]]:
    """Per point (in order): its name, whether it is the default, and its knob values (plain data, for a
    rule's params)."""
    return [
        {"point": p.name, "default_point": p.is_default, "knobs": {path: value for path, value in p.knobs}}
        for p in points
    ]


def region_table(claims: list[Any], rows: list[Mapping[str, Any]], study: str) -> Any:
    """One row per grid point x claim: the points' claims tables, each with its knob values as columns."""
    import pandas as pd

    frames = []
    for table, row in zip(claims, rows):
        frame = table.copy()
        frame.insert(0, "study", study)
        frame.insert(1, "point", row["point"])
        frame.insert(2, "default_point", bool(row["default_point"]))
        for k, (path, value) in enumerate(row["knobs"].items()):
            frame.insert(3 + k, path, str(value) if isinstance(value, list | dict) else value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def table_job(smk: Any) -> None:
    """Rule robustness_table: every point's claims table -> one tidy table for the study."""
    from featurelab.io import read_frame, write_table
    from featurelab.provenance import provenance

    rows = list(smk.params.points)
    table = region_table([read_frame(path) for path in smk.input.claims], rows, smk.wildcards.study)
    write_table(table, smk.output.table, provenance({"points": rows}, rule=smk.rule))
