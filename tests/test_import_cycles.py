"""No two featurelab modules import each other, directly or through others.

A cycle hides which module owns a piece of code, and it only works while every import in it stays inside a
function (at the top level, one side would see the other half-initialised). Imports inside functions count
here too: they are the ones a cycle hides behind. The graph is read from the syntax trees (:mod:`ast`),
nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from tests.helpers import REPO

PACKAGE_ROOT = REPO / "src" / "featurelab"


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root`` by dotted name (a package by its own name, not ``__init__``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The modules of ``modules`` that ``module`` imports anywhere in its file (top level, functions,
    classes), itself left out. ``from x import y`` names the module ``x.y`` when there is one, else the
    module or package ``x`` (where the name ``y`` is defined); relative imports are resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.update({submodule} if submodule in modules else {source} & modules.keys())
    return found - {module}


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports (:func:`imported_modules`)."""
    return {module: imported_modules(module, path, modules) for module, path in modules.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted, by reachability (the
    package is a few dozen modules: no need for Tarjan)."""
    reach = {module: _reachable(graph, module) for module in graph}
    components = {frozenset({m} | {n for n in reach[m] if m in reach[n]}) for m in graph}
    return sorted(sorted(c) for c in components if len(c) > 1)


def _reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in graph[stack.pop()] - seen:
            seen.add(nxt)
            stack.append(nxt)
    return seen


def test_featurelab_has_no_import_cycle():
    graph = import_graph(module_files(PACKAGE_ROOT))
    assert "featurelab.studies.geometry" in graph["featurelab.studies.geometry.train"]  # the graph is read
    found = cycles(graph)
    assert not found, "import cycles (modules that import each other, directly or not): " + "; ".join(
        " <-> ".join(c) for c in found
    )


def _package(tmp_path: Path, files: Mapping[str, str]) -> dict[str, set[str]]:
    root = tmp_path / "pkg"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return import_graph(module_files(root))


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from pkg.b import g\n",
            "b.py": "from pkg import c\ng = 1\n",
            "c.py": "def h():\n    import pkg.a\n",
        },
    )
    assert graph["pkg.b"] == {"pkg.c"}  # a submodule imported from its package: an edge to the submodule
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_a_name_from_a_package_is_an_edge_to_the_package_not_a_cycle_with_its_submodules(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "study/__init__.py": 'STUDY = "x"\n',
            "study/train.py": "from pkg.study import STUDY\nfrom . import model\n",
            "study/model.py": "from ..study import STUDY\n",
        },
    )
    assert graph["pkg.study.train"] == {"pkg.study", "pkg.study.model"}
    assert graph["pkg.study.model"] == {"pkg.study"}
    assert cycles(graph) == []
    graph["pkg.study"].add("pkg.study.train")  # the package importing its trainer back: one cycle of three
    assert cycles(graph) == [["pkg.study", "pkg.study.model", "pkg.study.train"]]
