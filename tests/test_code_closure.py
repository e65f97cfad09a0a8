"""featurelab.code_closure: which code a script reaches, and a hash that ignores comments and docstrings.

Unit tests on small made-up packages (written to a temporary ``src/featurelab``), plus checks that every
rule of the workflow carries the hash of the code it runs and that every ``step`` entry exists. What an edit reruns in the real workflow is tested end to
end in tests/test_code_rerun_e2e.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from featurelab import code_closure
from featurelab.code_closure import ALL, CodeIndex
from tests.helpers import REPO


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
    src = make_tree(
        tmp_path,
        {
            **PACKAGE,
            "featurelab/dyn.py": """
        import importlib

        def load(name):
            return importlib.import_module("featurelab." + name)
    """,
        },
    )
    closure = CodeIndex(src).closure(script(tmp_path, "d.py", "from featurelab.dyn import load\n"))
    assert closure["featurelab.heavy"] == ALL and closure["featurelab.steps"] == ALL


def edited_hash(
    tmp_path: Path, module: str, old: str, new: str, uses: str = "from featurelab.steps import make_data, train_model\n"
) -> tuple[str, str]:
    src = make_tree(tmp_path, PACKAGE)
    entry = script(tmp_path, "s.py", uses)
    before = CodeIndex(src).code_hash(entry, tmp_path)
    path = src / "featurelab" / module
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return before, CodeIndex(src).code_hash(entry, tmp_path)


@pytest.mark.parametrize(
    "old, new",
    [
        ("return helper(n)", "return helper(n)  # a comment"),
        ('"""Data."""', '"""Data, documented at length\n\n            over two paragraphs."""'),
        ("def make_data(n):", "\n\n\ndef make_data(n):"),
        ('"""Two steps in one module: making data and training."""', "# no module docstring any more"),
    ],
)
def test_comments_docstrings_and_blank_lines_change_nothing(tmp_path, old, new):
    before, after = edited_hash(tmp_path, "steps.py", old, new)
    assert before == after


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("steps.py", "return helper(n)", "return helper(n + 1)"),
        ("heavy.py", "return 1", "return 2"),  # reached through a lazy import
        ("util.py", "LIMIT = 3", "LIMIT = 4"),  # a module constant (preamble)
        ("__init__.py", '__version__ = "1"', '__version__ = "2"'),  # a package __init__ that runs on import
    ],
)
def test_code_edits_change_the_hash(tmp_path, module, old, new):
    before, after = edited_hash(tmp_path, module, old, new)
    assert before != after


def test_an_edit_outside_what_the_script_reaches_changes_nothing(tmp_path):
    before, after = edited_hash(tmp_path, "util.py", "return 0", "return 1")  # util.unused
    assert before == after
    before, after = edited_hash(
        tmp_path / "b", "heavy.py", "return 1", "return 2", uses="from featurelab.steps import make_data\n"
    )
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


#: Loads the workflow with Snakemake's API (in a subprocess: loading it changes the working directory and
#: the environment) and prints every rule's script and its ``code`` / ``step`` params as JSON.
RULES_AS_JSON = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings
with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(sys.argv[1]),
                            workdir=Path(sys.argv[2]))._workflow
    print(json.dumps([{"rule": r.name, "script": r.script, "basedir": str(r.basedir),
                       "params": {k: v for k, v in r.params.items() if k in ("code", "step")}}
                      for r in workflow.rules]))
"""


@pytest.fixture(scope="module")
def workflow_rules(tmp_path_factory) -> list[dict]:
    """Every rule of the workflow as Snakemake loaded it: name, script (absolute), ``code``/``step`` params."""
    import json
    import subprocess
    import sys

    workdir = tmp_path_factory.mktemp("rules")
    proc = subprocess.run(
        [sys.executable, "-c", RULES_AS_JSON, str(REPO / "Snakefile"), str(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rules = json.loads(proc.stdout.strip().splitlines()[-1])
    for rule in rules:
        if rule["script"]:
            rule["script"] = (Path(rule["basedir"]) / rule["script"]).resolve()
    return rules


def test_every_rule_hashes_the_code_it_runs(workflow_rules):
    """A rule whose params do not carry the hash of the code it runs would not rerun when that code
    changes: every rule with a script carries ``code=code_hash(<its script>)`` or ``step=step(<entry>)``,
    and the value is the hash of exactly the script it runs (with the entry, for ``step``)."""
    index = CodeIndex(REPO / "src")
    checked = 0
    for rule in workflow_rules:
        name, script, params = rule["rule"], rule["script"], rule["params"]
        if script is None:
            assert not params, f"rule {name} hashes code but runs no script"
            continue
        assert set(params) in ({"code"}, {"step"}), f"rule {name} runs {script.name} with params {sorted(params)}"
        if "code" in params:
            assert params["code"] == index.code_hash(script, REPO), f"rule {name}: code= is not its script's hash"
        else:
            entry = params["step"]["entry"]
            expected = index.code_hash(script, REPO, entries=[code_closure.study_entry(entry)])
            assert params["step"]["code"] == expected, (
                f"rule {name} runs {script.name}, but step({entry!r}) hashes the code of another script"
            )
        checked += 1
    assert checked >= 30


def test_every_step_entry_names_a_function_its_script_can_run(workflow_rules):
    """``step("<study>.<module>:<function>")``: the function exists; figures and claims entries run under
    scripts/figure.py and scripts/claims.py (with the module's ``TITLE``), every other one under
    scripts/step.py."""
    import importlib

    steps = [r for r in workflow_rules if "step" in r["params"]]
    assert {r["script"].name for r in steps} == {"step.py", "figure.py", "claims.py"}
    for rule in steps:
        entry = rule["params"]["step"]["entry"]
        module_name, function = entry.split(":")
        module = importlib.import_module(f"featurelab.studies.{module_name}")
        assert callable(getattr(module, function, None)), f"rule {rule['rule']}: no function {entry}"
        role = module_name.rsplit(".", 1)[-1]
        script = {"figures": "figure.py", "claims": "claims.py"}.get(role, "step.py")
        assert rule["script"].name == script, f"rule {rule['rule']}: {entry} runs under {rule['script'].name}"
        if role == "claims":
            assert isinstance(module.TITLE, str) and module.TITLE, entry


def test_every_script_of_the_workflow_reaches_real_modules_only():
    """The real tree: every script's closure starts at the package and names only modules that exist."""
    index = CodeIndex(REPO / "src")
    for entry in sorted((REPO / "scripts").glob("*.py")):
        closure = index.closure(entry)
        assert "featurelab" in closure, entry.name
        assert all(index.module_file(m) is not None for m in closure), entry.name
