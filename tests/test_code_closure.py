"""featurelab.code_closure: which code a script reaches, and a hash that ignores comments and docstrings.

Unit tests on small made-up packages (written to a temporary ``src/featurelab``), plus a check that every
rule of the workflow hashes the script it runs. What an edit reruns in the real workflow is tested end to
end in tests/test_code_rerun_e2e.py.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from featurelab import code_closure
from featurelab.code_closure import ALL, CodeIndex

REPO = Path(__file__).resolve().parents[1]


def make_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path under src/ -> source) and return the src folder."""
    src = tmp_path / "src"
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in [p for p in src.rglob("*") if p.is_dir()]:
        (folder / "__init__.py").touch()
    return src


PACKAGE = {
    "featurelab/__init__.py": '"""pkg"""\n__version__ = "1"\n',
    "featurelab/util.py": """
        import numpy as np

        LIMIT = 3

        def helper(x):
            return np.asarray(x) + LIMIT

        def unused():
            return 0
    """,
    "featurelab/heavy.py": """
        def train():
            return 1
    """,
    "featurelab/steps.py": '''
        """Two steps in one module: making data and training."""
        from featurelab.util import helper


        def make_data(n):
            """Data."""
            return helper(n)


        def train_model(n):
            from featurelab.heavy import train  # lazy import: counts only where train_model is reached

            return train() + n
    ''',
    "featurelab/sub/__init__.py": "",
    "featurelab/sub/rel.py": """
        from ..util import helper
        from . import other


        def go():
            return other.thing() + helper(1)
    """,
    "featurelab/sub/other.py": """
        def thing():
            return 2

        def other_thing():
            return 3
    """,
    "featurelab/sub/reexport.py": """
        from featurelab.sub.other import other_thing as exported
    """,
}


def script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "scripts" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_lazy_import_counts_only_where_its_function_is_reached(tmp_path):
    src = make_tree(tmp_path, PACKAGE)
    index = CodeIndex(src)
    data = index.closure(script(tmp_path, "data.py", "from featurelab.steps import make_data\nmake_data(1)\n"))
    train = index.closure(script(tmp_path, "train.py", "from featurelab.steps import train_model\n"))
    assert data == {"featurelab": set(), "featurelab.steps": {"make_data"}, "featurelab.util": {"helper"}}
    assert "featurelab.heavy" not in data
    assert train["featurelab.heavy"] == {"train"} and train["featurelab.steps"] == {"train_model"}
    assert "helper" not in train["featurelab.util"]  # util's preamble runs (steps imports it), helper does not


def test_relative_imports_packages_and_reexports(tmp_path):
    src = make_tree(tmp_path, PACKAGE)
    index = CodeIndex(src)
    rel = index.closure(script(tmp_path, "rel.py", "from featurelab.sub.rel import go\n"))
    assert rel["featurelab.sub"] == set()  # the package __init__ runs
    assert rel["featurelab.sub.other"] == {"thing"} and rel["featurelab.util"] == {"helper"}
    re_ = index.closure(script(tmp_path, "re.py", "from featurelab.sub.reexport import exported\n"))
    assert re_["featurelab.sub.other"] == {"other_thing"}


def test_a_module_used_as_a_value_brings_all_of_it(tmp_path):
    src = make_tree(tmp_path, PACKAGE)
    index = CodeIndex(src)
    closure = index.closure(script(tmp_path, "v.py", "from featurelab.sub import other\nprint(getattr(other, 'x'))\n"))
    assert closure["featurelab.sub.other"] == ALL
    attr = index.closure(script(tmp_path, "a.py", "import featurelab.sub.other as o\no.thing()\n"))
    assert attr["featurelab.sub.other"] == {"thing"}


def test_dynamic_lookups_take_the_whole_package(tmp_path):
    src = make_tree(tmp_path, {**PACKAGE, "featurelab/dyn.py": """
        import importlib

        def load(name):
            return importlib.import_module("featurelab." + name)
    """})
    closure = CodeIndex(src).closure(script(tmp_path, "d.py", "from featurelab.dyn import load\n"))
    assert closure["featurelab.heavy"] == ALL and closure["featurelab.steps"] == ALL


def edited_hash(tmp_path: Path, module: str, old: str, new: str, uses: str = "from featurelab.steps import "
                "make_data, train_model\n") -> tuple[str, str]:
    src = make_tree(tmp_path, PACKAGE)
    entry = script(tmp_path, "s.py", uses)
    before = CodeIndex(src).code_hash(entry, tmp_path)
    path = src / "featurelab" / module
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return before, CodeIndex(src).code_hash(entry, tmp_path)


@pytest.mark.parametrize("old, new", [
    ("return helper(n)", "return helper(n)  # a comment"),
    ('"""Data."""', '"""Data, documented at length\n\n            over two paragraphs."""'),
    ("def make_data(n):", "\n\n\ndef make_data(n):"),
    ('"""Two steps in one module: making data and training."""', "# no module docstring any more"),
])
def test_comments_docstrings_and_blank_lines_change_nothing(tmp_path, old, new):
    before, after = edited_hash(tmp_path, "steps.py", old, new)
    assert before == after


@pytest.mark.parametrize("module, old, new", [
    ("steps.py", "return helper(n)", "return helper(n + 1)"),
    ("heavy.py", "return 1", "return 2"),            # reached through a lazy import
    ("util.py", "LIMIT = 3", "LIMIT = 4"),            # a module constant (preamble)
    ("__init__.py", '__version__ = "1"', '__version__ = "2"'),  # a package __init__ that runs on import
])
def test_code_edits_change_the_hash(tmp_path, module, old, new):
    before, after = edited_hash(tmp_path, module, old, new)
    assert before != after


def test_an_edit_outside_what_the_script_reaches_changes_nothing(tmp_path):
    before, after = edited_hash(tmp_path, "util.py", "return 0", "return 1")  # util.unused
    assert before == after
    before, after = edited_hash(tmp_path / "b", "heavy.py", "return 1", "return 2",
                                uses="from featurelab.steps import make_data\n")
    assert before == after


def test_the_hash_does_not_depend_on_where_the_clone_is(tmp_path):
    hashes = []
    for where in ("a", "b/c"):
        src = make_tree(tmp_path / where, PACKAGE)
        entry = script(tmp_path / where, "s.py", "from featurelab.steps import make_data\n")
        hashes.append(CodeIndex(src).code_hash(entry, src.parent))
    assert hashes[0] == hashes[1]


def test_the_cache_skips_parsing_unchanged_files(tmp_path, monkeypatch):
    src = make_tree(tmp_path, PACKAGE)
    entry = script(tmp_path, "s.py", "from featurelab.steps import make_data, train_model\n")
    cache = tmp_path / "cache" / "code.json"
    first = CodeIndex(src, cache_file=cache)
    expected = first.code_hash(entry, tmp_path)
    first.save_cache()
    assert cache.exists()

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed a file whose analysis is cached")

    monkeypatch.setattr(code_closure, "analyse_source", no_parsing)
    second = CodeIndex(src, cache_file=cache)
    assert second.code_hash(entry, tmp_path) == expected
    second.save_cache()  # a run that parsed nothing keeps the analyses for the next edit
    # an edited file is parsed again, and only that one
    parsed = []
    monkeypatch.undo()
    real = code_closure.analyse_source

    def counting(data, module, *args, **kwargs):
        parsed.append(module)
        return real(data, module, *args, **kwargs)

    monkeypatch.setattr(code_closure, "analyse_source", counting)
    (src / "featurelab" / "heavy.py").write_text("def train():\n    return 5\n")
    third = CodeIndex(src, cache_file=cache)
    assert third.code_hash(entry, tmp_path) != expected
    assert parsed == ["featurelab.heavy"]
    third.save_cache()
    assert "featurelab.heavy" in cache.read_text() and cache.read_text().count("featurelab.heavy:") == 1


def test_a_broken_cache_file_is_ignored(tmp_path):
    src = make_tree(tmp_path, PACKAGE)
    entry = script(tmp_path, "s.py", "from featurelab.steps import make_data\n")
    cache = tmp_path / "code.json"
    cache.write_text("{not json")
    assert CodeIndex(src, cache_file=cache).code_hash(entry, tmp_path) == CodeIndex(src).code_hash(entry, tmp_path)


def test_a_file_that_does_not_parse_is_named(tmp_path):
    src = make_tree(tmp_path, {**PACKAGE, "featurelab/heavy.py": "def train(:\n"})
    entry = script(tmp_path, "s.py", "from featurelab.steps import train_model\n")
    with pytest.raises(SyntaxError, match="heavy.py"):
        CodeIndex(src).code_hash(entry, tmp_path)


def rule_blocks(text: str) -> list[tuple[str, str]]:
    """(rule name, block text) for every ``rule`` of a .smk file."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"^\s*rule (\w+):", text, flags=re.M)]
    ends = [s for s, _ in starts[1:]] + [len(text)]
    return [(name, text[start:end]) for (start, name), end in zip(starts, ends)]


def test_every_rule_hashes_the_script_it_runs():
    """A rule without `code=code_hash(<its own script>)` would not rerun when its featurelab code changes."""
    checked = 0
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for name, block in rule_blocks(path.read_text()):
            runs = re.findall(r'script:\s*\n\s*"\.\./\.\./(scripts/[\w.]+)"', block)
            hashed = re.findall(r'code=code_hash\("([^"]+)"\)', block)
            if not runs:
                assert not hashed, f"{path.name}: rule {name} hashes code but runs no script"
                continue
            assert hashed == runs, f"{path.name}: rule {name} runs {runs[0]} but has params code={hashed}"
            checked += 1
    assert checked >= 30


def test_every_script_of_the_workflow_reaches_real_modules_only():
    """The real tree: every script's closure starts at the package and names only modules that exist."""
    index = CodeIndex(REPO / "src")
    for entry in sorted((REPO / "scripts").glob("*.py")):
        closure = index.closure(entry)
        assert "featurelab" in closure, entry.name
        assert all(index.module_file(m) is not None for m in closure), entry.name
