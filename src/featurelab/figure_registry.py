"""The one form of a study's figure registry, and how the workflow reads it without importing matplotlib.

Every study's ``figures`` module ends with ``FIGURES: dict[str, Figure]``: the figure's name (its file
``figures/<study>/<name>.pdf``), the aggregated tables it is drawn from (``results/<study>/<table>.parquet``;
the first is its source in the manifests) and the function that draws it. Adding a figure is one entry
there, beside its drawing function (and its caption in ``workflow/report/<study>.rst``): the rule file, the
manifests, the report's captions test and the study's tests all read this registry.

The rule files read it while Snakemake builds the DAG, where importing a figures module (matplotlib, pandas)
would cost every dry run a second: :func:`figures_of` reads the registry's names and tables from the module's
syntax tree instead.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

STUDIES_DIR = Path(__file__).resolve().parent / "studies"


class Figure(NamedTuple):
    """One figure of a study: the tables it reads (the first is its manifest source), the function that
    draws it, and the task generators the config must use for it to have data (empty: always drawn)."""

    tables: tuple[str, ...]
    draw: Callable[..., Any]
    needs: tuple[str, ...] = ()


def _registry_node(tree: ast.Module) -> ast.Dict:
    for node in tree.body:
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name) and target.id == "FIGURES" and isinstance(node.value, ast.Dict):
            return node.value
    raise ValueError("no FIGURES = {...} registry at the module's top level")


def _entry(call: ast.expr) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tables, needs) of one ``Figure((...), draw_function, needs=(...))`` entry."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Figure"):
        raise ValueError(f"a FIGURES entry must be Figure(...), got {ast.unparse(call)}")
    tables = tuple(ast.literal_eval(call.args[0]))
    needs = next((tuple(ast.literal_eval(k.value)) for k in call.keywords if k.arg == "needs"), ())
    return tables, needs


def registry_of(path: str | Path) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The registry of a figures module, read from its source: name -> (tables, needs)."""
    node = _registry_node(ast.parse(Path(path).read_text()))
    return {ast.literal_eval(key): _entry(value) for key, value in zip(node.keys, node.values)}


def figures_of(study: str, generators: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """The study's figures and the tables each reads, in registry order; with ``generators`` (the task
    generators the config uses), only the figures whose ``needs`` it has."""
    registry = registry_of(STUDIES_DIR / study / "figures.py")
    have = None if generators is None else set(generators)
    return {name: tables for name, (tables, needs) in registry.items() if have is None or set(needs) <= have}
