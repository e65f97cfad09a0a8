"""What building the DAG costs stays small: no heavy imports from featurelab, config validation cached.

The time itself is measured by benchmarks/dry_run_benchmark.py, not asserted here (a timed test would
fail on a loaded machine); these tests check the mechanisms that keep it short, and that they change
nothing about the config the workflow sees.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from featurelab import config as fl_config
from featurelab.config import ConfigError, validate_config
from tests.helpers import REPO, SCHEMA, STUDIES, TINY_CONFIG, default_config, merged_config

HEAVY = ("torch", "pandas", "matplotlib", "sklearn", "scipy", "seaborn", "pyarrow")


def test_the_workflow_imports_no_heavy_library_from_featurelab():
    """Every featurelab module the Snakefile and rule files import, imported alone: none pulls in torch,
    pandas, matplotlib, scikit-learn, SciPy, seaborn or pyarrow (Snakemake itself may import pandas)."""
    sources = [REPO / "workflow" / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    modules = sorted(
        {m for path in sources for m in re.findall(r"^\s*from (featurelab[\w.]*) import", path.read_text(), flags=re.M)}
    )
    assert "featurelab.code_closure" in modules and "featurelab.config" in modules
    code = (
        f"import sys\nsys.path.insert(0, {str(REPO / 'src')!r})\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.mark.parametrize("over", [{}, "tiny", "full"])
def test_defaults_are_filled_as_snakemakes_validate_fills_them(over):
    from snakemake.utils import validate

    if over == "tiny":
        over = yaml.safe_load(TINY_CONFIG.read_text())
    elif over == "full":
        over = yaml.safe_load((REPO / "config" / "full.yaml").read_text())
    config = merged_config(default_config(), over)
    # drop keys that have schema defaults, so that filling them in is compared too
    del config["device"], config["figures"]["dpi"], config["checkpoint"]["every_steps"]
    ours, theirs = copy.deepcopy(config), copy.deepcopy(config)
    validate_config(ours, SCHEMA)
    validate(theirs, str(SCHEMA), set_default=True)
    assert ours["device"] == "auto" and ours["figures"]["dpi"] == 200 and ours["checkpoint"]["every_steps"] == 500
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # same key order too (params compare dicts in order)


def test_a_validated_config_is_reused_only_for_the_same_config_and_schemas(tmp_path, monkeypatch):
    cache = tmp_path / "validated.json"
    first = default_config()
    validate_config(first, SCHEMA, cache_file=cache)
    assert cache.exists()

    def no_schema(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(fl_config, "load_schema", no_schema)
    again = default_config()
    validate_config(again, SCHEMA, cache_file=cache)
    assert again == first and list(again) == list(first)
    # another config is checked again
    other = default_config()
    other["complexity"]["training"]["epochs"] = 7
    with pytest.raises(AssertionError, match="validated again"):
        validate_config(other, SCHEMA, cache_file=cache)


def test_a_bad_config_is_never_cached_and_semantic_checks_always_run(tmp_path):
    cache = tmp_path / "validated.json"
    bad = default_config()
    bad["complexity"]["training"]["epochs"] = "many"
    with pytest.raises(ConfigError, match="complexity.training.epochs"):
        validate_config(bad, SCHEMA, cache_file=cache)
    assert not cache.exists()
    # a config that passed the schema once is still checked for what lies outside it (the file system)
    config = merged_config(default_config(), {"mnist": {"source": "idx", "path": str(tmp_path / "mnist")}})
    (tmp_path / "mnist").mkdir()
    validate_config(copy.deepcopy(config), SCHEMA, cache_file=cache)
    (tmp_path / "mnist").rmdir()
    with pytest.raises(ConfigError, match="mnist.path"):
        validate_config(copy.deepcopy(config), SCHEMA, cache_file=cache)


def test_an_edited_schema_is_checked_again(tmp_path):
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    for path in SCHEMA.parent.glob("*.yaml"):
        (schemas / path.name).write_bytes(path.read_bytes())
    cache = tmp_path / "validated.json"
    validate_config(default_config(), schemas / SCHEMA.name, cache_file=cache)
    text = (schemas / SCHEMA.name).read_text()
    assert "minimum: 50, maximum: 1200" in text
    (schemas / SCHEMA.name).write_text(text.replace("minimum: 50, maximum: 1200", "minimum: 50, maximum: 100"))
    with pytest.raises(ConfigError, match="figures.dpi"):
        validate_config(default_config(), schemas / SCHEMA.name, cache_file=cache)


def test_the_code_closure_command_prints_what_a_rule_carries():
    """``python -m featurelab.code_closure scripts/claims.py --step complexity.claims:evaluate`` prints the
    hash the rule's ``step`` param carries and the definitions it covers."""
    from featurelab.code_closure import CodeIndex, study_entry

    entry = "complexity.claims:evaluate"
    proc = subprocess.run(
        [sys.executable, "-m", "featurelab.code_closure", "scripts/claims.py", "--step", entry],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": ""},
    )
    expected = CodeIndex(REPO / "src").code_hash(REPO / "scripts" / "claims.py", REPO, entries=[study_entry(entry)])
    assert f"code={expected}" in proc.stdout
    claims_line = next(line for line in proc.stdout.splitlines() if "featurelab.studies.complexity.claims: " in line)
    assert "evaluate_claims" in claims_line and "claims_job" in proc.stdout


#: Libraries a training job must not load: pandas, matplotlib and scikit-learn cost a real share of a short
#: job's start-up, and torch._dynamo is what featurelab.optim exists to skip.
NOT_IN_TRAINING = ("pandas", "matplotlib", "sklearn", "torch._dynamo")
TRAINING_ENTRIES = sorted(
    {
        entry
        for path in (REPO / "workflow" / "rules").glob("*.smk")
        for entry in re.findall(r'step\("(\w+\.train:\w+)"\)', path.read_text())
    }
)


def _reached_definitions(entry: str) -> dict[str, set[str] | str]:
    """Module -> definitions that a job of ``entry`` can run: scripts/step.py and the entry's code closure."""
    from featurelab.code_closure import CodeIndex, study_entry

    return CodeIndex(REPO / "src").closure(REPO / "scripts" / "step.py", entries=[study_entry(entry)])


def test_every_training_step_is_found():
    assert len(TRAINING_ENTRIES) >= 10
    assert {e.split(".")[0] for e in TRAINING_ENTRIES} == set(STUDIES)


@pytest.mark.parametrize("entry", TRAINING_ENTRIES)
def test_training_jobs_import_no_pandas_or_matplotlib(entry):
    """What a training job runs (scripts/step.py, the entry's module, and every featurelab module its code
    can reach, lazy imports included) imports none of NOT_IN_TRAINING: neither on import, nor inside a
    function the job can run."""
    import ast

    from featurelab.code_closure import ALL

    reached = _reached_definitions(entry)
    module, _ = entry.split(":")
    code = (
        f"import importlib, sys\nsys.path.insert(0, {str(REPO / 'src')!r})\nimport featurelab.scripting\n"
        f"importlib.import_module('featurelab.studies.{module}')\n"
        + "".join(f"importlib.import_module({m!r})\n" for m in reached)
        + f"print(sorted(m for m in {NOT_IN_TRAINING!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]", f"{entry}: {proc.stdout}"
    for name, definitions in reached.items():
        path = REPO / "src" / Path(*name.split("."))
        tree = ast.parse((path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and (definitions == ALL or node.name in definitions):
                imported = [a.name for n in ast.walk(node) if isinstance(n, ast.Import) for a in n.names]
                imported += [n.module or "" for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
                lazy = [m for m in imported if any(m == lib or m.startswith(lib + ".") for lib in NOT_IN_TRAINING)]
                assert not lazy, f"{entry}: {name}.{node.name} imports {lazy}"
