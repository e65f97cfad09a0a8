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

import pytest
import yaml

from conftest import REPO, SCHEMA, TINY_CONFIG, default_config, merged_config
from featurelab import config as fl_config
from featurelab.config import ConfigError, validate_config

HEAVY = ("torch", "pandas", "matplotlib", "sklearn", "scipy", "seaborn", "pyarrow")


def test_the_workflow_imports_no_heavy_library_from_featurelab():
    """Every featurelab module the Snakefile and rule files import, imported alone: none pulls in torch,
    pandas, matplotlib, scikit-learn, SciPy, seaborn or pyarrow (Snakemake itself may import pandas)."""
    sources = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    modules = sorted({m for path in sources for m in re.findall(r"^\s*from (featurelab[\w.]*) import", path.read_text(),
                                                                  flags=re.M)})
    assert "featurelab.code_closure" in modules and "featurelab.config" in modules
    code = (f"import sys\nsys.path.insert(0, {str(REPO / 'src')!r})\n"
            + "".join(f"import {m}\n" for m in modules)
            + f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
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
    from featurelab.code_closure import CodeIndex

    proc = subprocess.run([sys.executable, "-m", "featurelab.code_closure", "scripts/complexity_claims.py"],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": ""})
    expected = CodeIndex(REPO / "src").code_hash(REPO / "scripts" / "complexity_claims.py", REPO)
    assert f"code={expected}" in proc.stdout
    assert "featurelab.studies.complexity.analysis: " in proc.stdout and "evaluate_claims" in proc.stdout
