"""The files the Snakemake workflow catalog reads, and the docs that must follow the config and profiles.

The catalog lists a repository under "standardized usage" when it has ``workflow/Snakefile``,
``config/README.md`` and ``.snakemake-workflow-catalog.yml`` (its README, "Standardized usage workflows"),
besides the general rules: a README naming "snakemake" and "workflow", and ``.smk`` files in
``workflow/rules``. The catalog shows ``config/README.md`` on the workflow's page, so that page must name
every config key (a new key without a line there fails here, not on a reader) and state the defaults that
``config.yaml`` really has.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from featurelab.config import load_yaml
from tests.helpers import REPO, SCHEMA, STUDIES

CATALOG = REPO / ".snakemake-workflow-catalog.yml"
CONFIG_README = REPO / "config" / "README.md"
PROFILES_README = REPO / "profiles" / "README.md"
#: The keys the catalog's generator reads (scripts/generate-catalog.py: usage.mandatory-flags,
#: usage.software-stack-deployment, usage.report) and the deployment methods its pages know.
CATALOG_USAGE_KEYS = {"mandatory-flags", "software-stack-deployment", "report"}
CATALOG_DEPLOYMENT = {"conda", "apptainer", "apptainer+conda", "singularity", "singularity+conda"}
#: Top-level sections that are not studies but have keys of their own.
CORE_DICT_SECTIONS = ("checkpoint", "figures", "mnist")


def _schema_properties(section: str) -> set[str]:
    """The keys the schema allows one level below ``section``."""
    main = load_yaml(SCHEMA)
    node = main["properties"][section]
    if "$ref" in node:
        node = load_yaml(SCHEMA.parent / node["$ref"])
    return set(node.get("properties", {}))


def _named(name: str, text: str) -> bool:
    """``name`` appears in backticks in ``text``, alone or as the start of a longer dotted key (a section is
    named by the rows of its keys)."""
    return re.search(rf"`{re.escape(name)}[`.]", text) is not None


def test_catalog_file_has_only_the_catalogs_keys_and_what_it_needs():
    settings = yaml.safe_load(CATALOG.read_text())
    assert set(settings) == {"usage"}, settings
    usage = settings["usage"]
    assert set(usage) <= CATALOG_USAGE_KEYS, set(usage) - CATALOG_USAGE_KEYS
    deployment = usage["software-stack-deployment"]
    assert set(deployment) <= CATALOG_DEPLOYMENT, set(deployment) - CATALOG_DEPLOYMENT
    assert all(isinstance(v, bool) for v in deployment.values()), deployment
    assert any(deployment.values()), "the catalog needs at least one deployment method"
    if deployment.get("conda"):
        assert (REPO / "workflow" / "envs" / "featurelab.yaml").is_file()  # every rule names it: test_lint
    assert usage["report"] is True
    assert "\nreport:" in (REPO / "workflow" / "Snakefile").read_text()
    flags = usage.get("mandatory-flags", {})
    assert set(flags) <= {"desc", "flags"}, flags
    assert isinstance(flags.get("flags", ""), str | list)
    assert isinstance(flags.get("desc", ""), str)


def test_repository_meets_the_catalogs_other_requirements():
    assert (REPO / "workflow" / "Snakefile").is_file()
    assert CONFIG_README.is_file()
    readme = (REPO / "README.md").read_text().lower()
    assert "snakemake" in readme and "workflow" in readme
    assert any((REPO / "workflow" / "rules").glob("*.smk"))


def test_license_is_the_apache_2_text_that_pyproject_names():
    license_field = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    assert license_field == {"text": "Apache-2.0"}
    text = (REPO / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    sections = re.findall(r"^ {3}(\d)\. ([A-Z][^.]+)\.", text, flags=re.M)
    assert [n for n, _ in sections] == [str(i) for i in range(1, 10)], sections
    assert "END OF TERMS AND CONDITIONS" in text
    assert "http://www.apache.org/licenses/LICENSE-2.0" in text


def test_config_readme_names_every_config_key():
    """Every top-level key, and every key one level down in the studies and core sections, of config.yaml
    and of the schemas (a key the schema allows but config.yaml leaves out is still a setting)."""
    config = load_yaml(REPO / "config.yaml")
    text = CONFIG_README.read_text()
    expected = set(config) | set(load_yaml(SCHEMA)["properties"])
    for section in (*STUDIES, *CORE_DICT_SECTIONS):
        keys = set(config.get(section, {})) | _schema_properties(section)
        expected |= {f"{section}.{key}" for key in keys}
    missing = sorted(name for name in expected if not _named(name, text))
    assert not missing, f"config/README.md does not name (in backticks): {missing}"


def _default_rows() -> list[tuple[str, str]]:
    """(dotted key, default) of every table row of the config README whose first cell is one dotted key
    and whose second cell is one backticked value."""
    rows = []
    for line in CONFIG_README.read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) >= 2 and re.fullmatch(r"`[a-z_]+(\.[a-z_+]+)*`", cells[0]):
            value = re.fullmatch(r"`([^`]+)`", cells[1])
            if value:
                rows.append((cells[0].strip("`"), value.group(1)))
    return rows


def test_config_readme_states_the_defaults_of_config_yaml():
    config = load_yaml(REPO / "config.yaml")
    rows = _default_rows()
    assert len(rows) > 150, len(rows)  # the tables were found
    wrong = []
    for key, written in rows:
        node = config
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"config/README.md: {key} is not in config.yaml"
            node = node[part]
        if yaml.safe_load(written) != node:
            wrong.append(f"{key}: README {written!r}, config.yaml {node!r}")
    assert not wrong, "\n".join(wrong)


def test_config_readme_names_the_files_of_config_folder():
    text = CONFIG_README.read_text()
    for path in sorted((REPO / "config").glob("*.yaml")):
        assert f"`config/{path.name}`" in text, path.name


@pytest.mark.parametrize(
    "profile",
    sorted(p.parent for p in (REPO / "profiles").glob("*/config.yaml")),
    ids=lambda p: p.name,
)
def test_profiles_readme_names_each_profile_and_its_keys(profile: Path):
    text = PROFILES_README.read_text()
    assert f"`profiles/{profile.name}`" in text
    keys = load_yaml(profile / "config.yaml")
    missing = [key for key in keys if f"`{key}`" not in text]
    assert not missing, f"profiles/README.md does not explain {profile.name}'s keys {missing}"
