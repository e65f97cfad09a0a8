"""The code a job runs, as one hash: its script plus the featurelab code the script can reach.

Snakemake reruns a ``script:`` job when the script file is newer than the job's outputs, but it does not
look into what the script imports, and featurelab's scripts are thin by design: the science is in
``src/featurelab``. So every rule carries ``params: code=code_hash("scripts/<its script>.py")`` (the
helper in ``workflow/rules/common.smk``), and Snakemake's ``params`` rerun trigger reruns a job, and with
it everything downstream, exactly when the code its script can reach has changed.

Reach is found statically with :mod:`ast` (nothing is imported or executed), at the level of a module's
top-level definitions, so that a module holding several steps (a study's dataset maker and its trainer,
an analysis and its claims) reruns only the jobs that use the edited step:

- A module's *preamble* is everything at its top level except plain (undecorated) ``def`` and ``class``
  statements: imports, constants, registries, decorated definitions. It runs on import, so it belongs to
  every job that imports the module, as do the preambles of the packages above it.
- A plain top-level function or class belongs to a job when the job's code refers to it: the script
  imports it (``from featurelab.io import read_frame``), or a definition or preamble that belongs to the
  job names it (``read_frame(...)``, ``ad.probe_error(...)`` after ``from featurelab.studies.dissociation
  import evaluate as ad``, an entry of a ``FIGURES = {...}`` registry), through any number of modules.
- Imports inside a function count where that function belongs (a lazy import is still code the job
  runs). A module used as a value (``f(module)``, ``getattr(module, name)``) or imported with ``*``
  brings all of its definitions; a module that calls ``globals()``, ``vars()``, ``eval``, ``exec``,
  ``__import__`` or ``import_module`` is not analysed name by name: the whole featurelab package counts.

Imports outside featurelab (torch, pandas, ...) are not followed: library versions are recorded in every
output's provenance instead.

What "changed" means: each preamble and definition is hashed as ``ast.dump`` of its syntax tree with
docstrings removed, so edits to whitespace, comments or docstrings (and reordering definitions) change no
hash and rerun nothing, while any change to what the code does changes it. A different Python version
may dump trees differently, so upgrading Python can rerun everything once.

Building the DAG calls this for every rule, so it must be cheap. Two caches, in one small JSON file
(the workflow keeps it under ``.snakemake/``), both keyed by exact file contents: each script's final hash
under the digest of the whole package and the script (a no-op dry run only reads and SHA-256s the
files), and each file's analysis (after an edit only the edited file is parsed again).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKAGE = "featurelab"
#: Bump when the analysis or the cached record changes, so that old cache entries are not reused.
CACHE_VERSION = 3
#: Calls that look names up at run time: a module using them is taken with the whole package.
DYNAMIC_NAMES = frozenset({"globals", "vars", "eval", "exec", "__import__"})
DYNAMIC_ATTRIBUTES = frozenset({"import_module"})
ALL = "*"


def strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of every module, class and function removed (in place).

    A body left empty becomes ``pass``, so ``def f(): "doc"`` and ``def f(): pass`` are the same code,
    as they are to Python.
    """
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _digest(node: ast.AST) -> str:
    return hashlib.sha256(ast.dump(node).encode()).hexdigest()[:20]


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


class _Scope:
    """One walk over some statements of a module: what they import, and which featurelab names they use."""

    def __init__(
        self, module: str | None, is_package: bool, module_bindings: dict[str, str], own_units: Iterable[str]
    ) -> None:
        self.module, self.is_package = module, is_package
        self.bindings = dict(module_bindings)
        self.own_units = own_units
        self.refs: set[tuple[str, str]] = set()  # ("exec" | "use", dotted name)
        self.dynamic = False
        self._uses: list[tuple[str, list[str]]] = []

    def scan(self, nodes: Iterable[ast.AST]) -> _Scope:
        for node in nodes:
            self._visit(node)
        for name, attributes in self._uses:  # resolved after the walk: every import seen by then
            if name in DYNAMIC_NAMES:
                self.dynamic = True
            if name in self.bindings:
                self.refs.add(("use", ".".join([self.bindings[name], *attributes])))
            elif name in self.own_units and self.module is not None:
                self.refs.add(("use", f"{self.module}.{name}"))
        return self

    def _absolute(self, node: ast.ImportFrom) -> str | None:
        if not node.level:
            return node.module or ""
        if self.module is None:  # a script outside the package has no relative imports
            return None
        parts = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def _import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name.split(".")[0]
            if _ours(alias.name):
                self.refs.add(("exec", alias.name))
                self.bindings[bound] = alias.name if alias.asname else bound
            else:
                self.bindings.pop(bound, None)

    def _import_from(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        if base is None or not _ours(base):
            for alias in node.names:
                self.bindings.pop(alias.asname or alias.name, None)
            return
        self.refs.add(("exec", base))
        for alias in node.names:
            if alias.name == "*":
                self.refs.add(("use", base))
            else:
                self.refs.add(("exec", f"{base}.{alias.name}"))  # runs a submodule, if it is one
                self.bindings[alias.asname or alias.name] = f"{base}.{alias.name}"
                if self.module is None:  # what a script imports, it imports to use
                    self.refs.add(("use", f"{base}.{alias.name}"))

    def _visit(self, node: ast.AST) -> None:
        kind = type(node)
        if kind is ast.Name:
            if type(node.ctx) is ast.Load:
                self._uses.append((node.id, []))
            return
        if kind is ast.Attribute:
            chain, inner = [node.attr], node.value
            while type(inner) is ast.Attribute:
                chain.append(inner.attr)
                inner = inner.value
            if node.attr in DYNAMIC_ATTRIBUTES:
                self.dynamic = True
            if type(inner) is ast.Name:
                chain.reverse()
                self._uses.append((inner.id, chain))
                return
        elif kind is ast.Import:
            self._import(node)
            return
        elif kind is ast.ImportFrom:
            self._import_from(node)
            return
        for child in ast.iter_child_nodes(node):
            self._visit(child)


def analyse_source(data: bytes, module: str | None, is_package: bool = False, filename: str = "<src>") -> dict:
    """Digests and featurelab references of one file (JSON-serialisable; what the cache stores).

    ``module`` is the file's dotted name, or None for a script (then everything in it is preamble: a
    script's code always runs). Returns ``preamble`` (digest), ``preamble_refs``, ``units`` (name ->
    [digest, refs]), ``bindings`` (module-level import name -> dotted target, to follow re-exports) and
    ``dynamic``.
    """
    try:
        tree = strip_docstrings(ast.parse(data, filename=filename))
    except SyntaxError as error:
        raise SyntaxError(f"{filename}: cannot hash the code of a file that does not parse: {error}") from None
    units: dict[str, list[ast.stmt]] = {}
    preamble: list[ast.stmt] = []
    for stmt in tree.body:
        plain_def = isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not stmt.decorator_list
        if plain_def and module is not None:
            units.setdefault(stmt.name, []).append(stmt)
        else:
            preamble.append(stmt)
    top = _Scope(module, is_package, {}, units).scan(preamble)
    dynamic = top.dynamic or "__getattr__" in units
    unit_records = {}
    for name, nodes in units.items():
        scope = _Scope(module, is_package, top.bindings, units).scan(nodes)
        dynamic = dynamic or scope.dynamic
        unit_records[name] = [_digest(ast.Module(body=nodes, type_ignores=[])), sorted(map(list, scope.refs))]
    return {
        "preamble": _digest(ast.Module(body=preamble, type_ignores=[])),
        "preamble_refs": sorted(map(list, top.refs)),
        "units": unit_records,
        "bindings": {k: v for k, v in sorted(top.bindings.items()) if _ours(v)},
        "dynamic": dynamic,
    }


class CodeIndex:
    """Closures and hashes of scripts over one source tree (``src``, the folder holding ``featurelab/``).

    One instance serves every rule of a workflow: each file is read once, and parsed only when the
    on-disk cache (``cache_file``, optional) has no entry for its exact bytes.
    """

    def __init__(self, src: str | os.PathLike, cache_file: str | os.PathLike | None = None) -> None:
        self.src = Path(src)
        self.cache_file = Path(cache_file) if cache_file else None
        self._cache: dict[str, Any] | None = None
        self._cached_hashes: dict[str, str] = {}
        self._used: dict[str, Any] = {}
        self._used_hashes: dict[str, str] = {}
        self._modules: dict[str, dict | None] = {}
        self._tree_digest: str | None = None
        self._current: set[str] = set()  # SHA-256 of every file as it is now (package files, scripts seen)

    # -- files and the cache -------------------------------------------------------------------------
    def module_file(self, name: str) -> Path | None:
        """The file that defines module ``name`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
        base = self.src.joinpath(*name.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def _load_cache(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = {}
            if self.cache_file is not None:
                try:
                    data = json.loads(self.cache_file.read_text())
                    if (
                        data.get("version") == CACHE_VERSION
                        and isinstance(data.get("files"), dict)
                        and isinstance(data.get("hashes"), dict)
                    ):
                        self._cache, self._cached_hashes = data["files"], data["hashes"]
                except (OSError, ValueError, AttributeError):
                    pass
        return self._cache

    def save_cache(self) -> None:
        """Write the entries used so far (others are dropped, so the file does not grow); best effort."""
        if self.cache_file is None or not (self._used or self._used_hashes):
            return
        self._load_cache()
        if self._used_hashes == self._cached_hashes and (not self._used or self._used == self._cache):
            return
        # analyses of files as they are now (parsed this run or earlier); older versions are dropped
        self.tree_digest()
        files = {k: v for k, v in {**self._cache, **self._used}.items() if k.rsplit(":", 1)[-1] in self._current}
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_name(f"{self.cache_file.name}.{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps({"version": CACHE_VERSION, "files": files, "hashes": self._used_hashes}, sort_keys=True)
            )
            os.replace(tmp, self.cache_file)
            self._cache, self._cached_hashes = dict(files), dict(self._used_hashes)
        except OSError:  # a read-only working directory only costs the next run the parsing
            pass

    def tree_digest(self) -> str:
        """SHA-256 of every file of the package (names and bytes): what any closure can depend on."""
        if self._tree_digest is None:
            digest = hashlib.sha256(f"{CACHE_VERSION}".encode())
            root = self.src / PACKAGE
            for path in sorted(root.rglob("*.py")):
                data = path.read_bytes()
                self._current.add(hashlib.sha256(data).hexdigest())
                digest.update(str(path.relative_to(root)).encode() + b"\0" + data + b"\0")
            self._tree_digest = digest.hexdigest()
        return self._tree_digest

    def analyse(self, path: Path, module: str | None, is_package: bool = False) -> dict:
        """:func:`analyse_source` of one file, from the cache when its bytes are the cached ones."""
        data = path.read_bytes()
        key = f"{module or 'script'}:{int(is_package)}:{hashlib.sha256(data).hexdigest()}"
        record = self._used.get(key) or self._load_cache().get(key)
        if record is None:
            record = analyse_source(data, module, is_package, filename=str(path))
        self._used[key] = record
        return record

    def _module(self, name: str) -> dict | None:
        if name not in self._modules:
            path = self.module_file(name)
            self._modules[name] = None if path is None else self.analyse(path, name, path.name == "__init__.py")
        return self._modules[name]

    def all_modules(self) -> list[str]:
        root = self.src / PACKAGE
        names = []
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(self.src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
        return names

    # -- closures ------------------------------------------------------------------------------------
    def closure(self, script: str | os.PathLike, entries: Iterable[str] = ()) -> dict[str, set[str] | str]:
        """Module -> the definitions of it that ``script`` can reach (``ALL`` for all of them).

        ``entries`` are dotted names the script reaches at run time (the generic study scripts import
        the function their rule names with :func:`importlib.import_module`, which static analysis of
        the script cannot see): each is followed as if the script used it.
        A module present with an empty set contributes its preamble only.
        """
        found: dict[str, set[str]] = {}
        whole: set[str] = set()
        done: set[tuple[str, str]] = set()
        todo: list[tuple[str, str]] = [tuple(r) for r in self.analyse(Path(script), None)["preamble_refs"]]
        todo.extend(("use", entry) for entry in entries)

        def execute(module: str) -> None:
            for i in range(1, module.count(".") + 2):  # a.b.c runs a/__init__, a/b/__init__, then a/b/c
                name = ".".join(module.split(".")[:i])
                if name not in found and self._module(name) is not None:
                    found[name] = set()
                    record = self._module(name)
                    todo.extend(tuple(r) for r in record["preamble_refs"])
                    if record["dynamic"]:
                        todo.extend(("use", m) for m in self.all_modules())

        while todo:
            ref = todo.pop()
            if ref in done:
                continue
            done.add(ref)
            kind, dotted = ref
            parts = dotted.split(".")
            cut = next((i for i in range(len(parts), 0, -1) if self._module(".".join(parts[:i])) is not None), 0)
            if not cut:
                continue
            module, rest = ".".join(parts[:cut]), parts[cut:]
            execute(module)
            if kind != "use":
                continue
            record = self._module(module)
            if not rest:  # the module itself is used as a value: all of it
                names = list(record["units"])
                whole.add(module)
            elif rest[0] in record["units"]:
                names = [rest[0]]
            elif rest[0] in record["bindings"]:  # a name the module imported from elsewhere
                todo.append(("use", ".".join([record["bindings"][rest[0]], *rest[1:]])))
                names = []
            else:  # defined in the preamble, which is already included
                names = []
            for name in names:
                if name not in found[module]:
                    found[module].add(name)
                    todo.extend(tuple(r) for r in record["units"][name][1])
        return {m: (ALL if m in whole else found[m]) for m in sorted(found)}

    def code_hash(
        self, script: str | os.PathLike, relative_to: str | os.PathLike | None = None, entries: Iterable[str] = ()
    ) -> str:
        """16 hex digits naming the code ``script`` runs: its own tree, and every preamble and definition
        it (and each of ``entries``, see :meth:`closure`) reaches. The script is named by its path
        relative to ``relative_to`` (the workflow's base directory), so the hash does not change when the
        clone moves.
        """
        script = Path(script)
        entries = sorted(entries)
        label = os.path.relpath(script, relative_to) if relative_to is not None else script.name
        label += "".join(f"+{entry}" for entry in entries)
        script_sha = hashlib.sha256(script.read_bytes()).hexdigest()
        self._current.add(script_sha)
        key = f"{label}:{script_sha}:{self.tree_digest()}"
        self._load_cache()
        if key in self._cached_hashes:
            self._used_hashes[key] = self._cached_hashes[key]
            return self._used_hashes[key]
        lines = [f"{label}:{self.analyse(script, None)['preamble']}"]
        for module, names in self.closure(script, entries).items():
            record = self._module(module)
            lines.append(f"{module}:{record['preamble']}")
            chosen = record["units"] if names == ALL else sorted(names)
            lines.extend(f"{module}.{name}:{record['units'][name][0]}" for name in sorted(chosen))
        self._used_hashes[key] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
        return self._used_hashes[key]


def study_entry(step: str) -> str:
    """The dotted name a rule's ``step("complexity.train:train_job")`` runs."""
    return f"{PACKAGE}.studies.{step.replace(':', '.')}"


def main(argv: list[str] | None = None) -> int:
    """``python -m featurelab.code_closure scripts/<x>.py [--step <study>.<module>:<function>]``: what a
    rule's code hash covers.

    Prints the hash a rule's ``params`` carry (``code=``, or ``step=``'s ``code``: the value a dry run's
    "Params have changed" reason shows before and now) and every module and definition it reaches, so
    an unexpected rerun can be traced to the module that changed. Run it from the clone's root.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m featurelab.code_closure", description=main.__doc__)
    parser.add_argument("script", help="scripts/<rule script>.py, relative to the clone")
    parser.add_argument(
        "--step",
        action="append",
        default=[],
        help="the rule's step entry, e.g. complexity.train:train_job (with scripts/step.py, figure.py or claims.py)",
    )
    parser.add_argument("--src", default="src", help="the folder holding featurelab/ (default: src)")
    args = parser.parse_args(argv)
    index = CodeIndex(args.src)
    entries = [study_entry(step) for step in args.step]
    print(f"{args.script}  code={index.code_hash(args.script, relative_to='.', entries=entries)}")
    for module, names in index.closure(args.script, entries).items():
        reached = "all definitions" if names == ALL else (", ".join(sorted(names)) or "top level only")
        print(f"    {module}: {reached}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
