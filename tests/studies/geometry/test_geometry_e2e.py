"""The geometry rules end to end, through a TEMPORARY shim of the generic-step glue.

``workflow/rules/geometry.smk`` is written for the generic form the lead is building (``script: STEP_SCRIPT``
with ``params: step=step("geometry.train:train_job")``, ``CLAIMS_SCRIPT``, ``FIGURE_SCRIPT``), which does not
exist on this branch, and the Snakefile and ``config.schema.yaml`` do not include the study yet. So this
test copies the repository to a temporary folder and adds, there only: the schema reference, two
``include:`` lines, a shim rule file defining ``step``/``STEP_SCRIPT``/``CLAIMS_SCRIPT``/``FIGURE_SCRIPT``
(and calling ``featurelab.studies.geometry.config_errors``), and three tiny generic scripts. Nothing of
the shim is in ``src/`` or ``workflow/``; delete this file once the real glue has landed.

``python tests/studies/geometry/test_geometry_e2e.py DEST`` builds the same shim tree in DEST (used to
measure the default study).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

SHIM_RULES = '''"""TEMPORARY shim (tests/studies/geometry/test_geometry_e2e.py): the generic-step glue."""

from featurelab.studies.geometry import config_errors as _geometry_config_errors

_GE_ERRORS = _geometry_config_errors(config)
if _GE_ERRORS:
    raise WorkflowError(f"invalid config: {_GE_ERRORS[0]}")

STEP_SCRIPT = "../../scripts/_shim_step.py"
CLAIMS_SCRIPT = "../../scripts/_shim_claims.py"
FIGURE_SCRIPT = "../../scripts/_shim_figure.py"


def step(target):
    return {"target": target}
'''

SHIM_STEP = '''"""TEMPORARY shim: run featurelab.studies.<module>:<function>(snakemake)."""
import importlib

from featurelab.scripting import run


def main(smk):
    module, function = smk.params.step["target"].split(":")
    getattr(importlib.import_module(f"featurelab.studies.{module}"), function)(smk)


run(main, snakemake)  # noqa: F821
'''

SHIM_CLAIMS = '''"""TEMPORARY shim: the claims of featurelab.studies.<module>:evaluate on the rule's input tables."""
import importlib

from featurelab.io import read_frame
from featurelab.scripting import run, write_claims


def main(smk):
    module, function = smk.params.step["target"].split(":")
    mod = importlib.import_module(f"featurelab.studies.{module}")
    tables = {name: read_frame(path) for name, path in smk.input.items()}
    params = {k: v for k, v in smk.params.items() if k != "step"}
    write_claims(smk, getattr(mod, function)(tables, params), mod.TITLE, dict(smk.input.items()))


run(main, snakemake)  # noqa: F821
'''

SHIM_FIGURE = '''"""TEMPORARY shim: draw featurelab.studies.<module>:draw(figure, tables, params), save PDF + PNG."""
import importlib

from featurelab.io import read_frame
from featurelab.plotting.style import apply_style, save_figure
from featurelab.scripting import run


def main(smk):
    module, function = smk.params.step["target"].split(":")
    draw = getattr(importlib.import_module(f"featurelab.studies.{module}"), function)
    apply_style()
    tables = {name: read_frame(path) for name, path in smk.input.items()}
    params = {k: v for k, v in smk.params.items() if k != "step"}
    fig = draw(smk.wildcards.figure, tables, params)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=params["figures"]["dpi"])


run(main, snakemake)  # noqa: F821
'''


def make_shim_tree(dest: Path) -> Path:
    """A copy of this working tree (tracked and untracked, not ignored files) with the shim added."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    schema = dest / "workflow" / "schemas" / "config.schema.yaml"
    text = schema.read_text()
    anchor = '  learnability: {$ref: "learnability.schema.yaml"}\n'
    assert anchor in text, "config.schema.yaml changed: update the shim"
    schema.write_text(text.replace(anchor, anchor + '  geometry: {$ref: "geometry.schema.yaml"}\n'))
    snakefile = dest / "Snakefile"
    text = snakefile.read_text()
    anchor = 'include: "workflow/rules/learnability.smk"\n'
    assert anchor in text, "Snakefile changed: update the shim"
    snakefile.write_text(text.replace(anchor, anchor + 'include: "workflow/rules/geometry_shim.smk"\n'
                                      'include: "workflow/rules/geometry.smk"\n'))
    (dest / "workflow" / "rules" / "geometry_shim.smk").write_text(SHIM_RULES)
    for name, body in (("_shim_step.py", SHIM_STEP), ("_shim_claims.py", SHIM_CLAIMS),
                       ("_shim_figure.py", SHIM_FIGURE)):
        (dest / "scripts" / name).write_text(body)
    return dest


def snakemake(repo: Path, workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def scheduled(stdout: str) -> dict[str, int]:
    counts, table = {}, False
    for line in stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            table = True
        elif table and len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
        elif table and parts and not set(parts[0]) <= {"-"}:
            table = False
    return counts


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The shim tree and a finished tiny run of figures/geometry/all."""
    base = tmp_path_factory.mktemp("geometry_e2e")
    repo = make_shim_tree(base / "repo")
    work = base / "work"
    tiny = str(repo / "tests" / "configs" / "tiny.yaml")
    snakemake(repo, work, "figures/geometry/all", "--configfile", tiny)
    return repo, work, tiny


@pytest.mark.e2e
def test_the_study_runs_and_writes_every_output(built):
    import pandas as pd

    from featurelab.analysis.claims import CLAIM_COLUMNS

    repo, work, tiny = built
    claims = pd.read_parquet(work / "results" / "geometry" / "claims.parquet")
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert len(claims) == 6 + 1 and claims["claim"].iloc[-1] == "dims_per_feature_fall"
    assert (work / "results" / "geometry" / "claims.md").read_text().startswith("# geometry:")
    for name in ("dimensionality", "training_loss"):
        for ext in ("pdf", "png"):
            assert (work / "figures" / "geometry" / f"{name}.{ext}").stat().st_size > 1000
    manifest = (work / "figures" / "geometry" / "all").read_text().splitlines()
    assert len(manifest) == 1 + 4 and "results/geometry/features.parquet" in manifest[1 + 0] + manifest[1 + 1]
    assert (work / "results" / "logs" / "geometry" / "train" / "seed0.log").exists()
    assert (work / "results" / "benchmarks" / "geometry" / "train" / "seed1.tsv").exists()
    # a second run has nothing to do
    assert "Nothing to be done" in snakemake(repo, work, "-n", "figures/geometry/all", "--configfile", tiny).stdout


@pytest.mark.e2e
def test_a_claims_threshold_reruns_only_the_claims(built, tmp_path):
    import yaml

    repo, work, tiny = built
    config = yaml.safe_load(Path(tiny).read_text())
    config["geometry"]["claims"]["min_share"] = 0.2
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(config))
    assert scheduled(snakemake(repo, work, "-n", "figures/geometry/all", "--configfile", str(other)).stdout) == {
        "geometry_claims": 1, "geometry_all": 1}
    config["geometry"]["claims"]["tolerance"] = 0.005   # the figures' bins follow the tolerance
    other.write_text(yaml.safe_dump(config))
    assert scheduled(snakemake(repo, work, "-n", "figures/geometry/all", "--configfile", str(other)).stdout) == {
        "geometry_claims": 1, "geometry_figure": 2, "geometry_all": 1}
    config["geometry"]["seeds"] = [0, 1, 2]            # a new seed trains only that seed
    other.write_text(yaml.safe_dump(config))
    counts = scheduled(snakemake(repo, work, "-n", "figures/geometry/all", "--configfile", str(other)).stdout)
    assert counts["geometry_train"] == 1 and counts["geometry_aggregate"] == 1


@pytest.mark.e2e
def test_a_bad_config_stops_before_any_job_naming_the_key(built, tmp_path):
    import yaml

    repo, work, tiny = built
    config = yaml.safe_load(Path(tiny).read_text())
    config["geometry"]["claims"]["tolerance"] = 0.05       # wider than half the gap between 2/5 and 3/8
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake(repo, work, "-n", "figures/geometry/all", "--configfile", str(bad), check=False)
    assert proc.returncode != 0 and "config key 'geometry.claims.tolerance'" in proc.stdout + proc.stderr
    config["geometry"]["model"]["n_hiden"] = 3
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake(repo, work, "-n", "figures/geometry/all", "--configfile", str(bad), check=False)
    assert proc.returncode != 0 and "config key 'geometry.model'" in proc.stdout + proc.stderr


@pytest.mark.e2e
def test_the_rules_are_lint_clean_and_formatted(built, tmp_path):
    import json

    repo, _, _ = built
    proc = snakemake(repo, tmp_path, "--lint", "json", check=False)
    lints = json.loads(proc.stdout) if proc.stdout.strip() else {}
    found = [f"{entry['for']}: {lint['title']}" for kind in ("snakefiles", "rules") for entry in lints.get(kind, [])
             for lint in entry["lints"] if "geometry" in json.dumps(entry)]
    assert proc.returncode == 0 and not found, found
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", str(REPO / "workflow/rules/geometry.smk")],
                         capture_output=True, text=True, timeout=120)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


if __name__ == "__main__":
    print(make_shim_tree(Path(sys.argv[1])))
