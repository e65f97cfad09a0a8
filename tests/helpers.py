"""Helpers shared by the test modules: repository paths, configs, a runner for the real ``snakemake``, and
the tiny workflow trees that the end-to-end tests share.

Import as ``from tests.helpers import ...`` (``tests`` is a package, so that same-named test modules in
``tests/studies/<study>/`` do not clash). ``tests/conftest.py`` holds only the fixtures built on these.

End-to-end tests run the workflow in a temporary working directory (``snakemake -d``), so they never
touch the clone's own ``results/`` or ``figures/`` and can run in parallel with a real study.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from featurelab.config import study_names

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MNIST_DATA = REPO / "tests" / "data" / "mnist"
#: Every study the workflow knows (the schema's studies list).
STUDIES = tuple(study_names(SCHEMA))


class Run:
    """A snakemake run started by :func:`start_snakemake`, collected by :func:`finish`. Its output goes to
    temporary files, so that a long run in the background never blocks on a full pipe."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.cmd = cmd
        self.stdout, self.stderr = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        # its own process group, so that stop() ends Snakemake and every job it started
        self.proc = subprocess.Popen(
            cmd, stdout=self.stdout, stderr=self.stderr, text=True, env=env, start_new_session=True
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Kill the run and its jobs if it still runs (a session or module that ends early leaves nothing
        behind)."""
        if self.running():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def start_snakemake(
    workdir: Path, *args: str, configfile: Path = TINY_CONFIG, snakefile: Path = REPO / "Snakefile"
) -> Run:
    """Start the real workflow (``snakefile``, by default this clone's) in ``workdir`` with ``configfile``
    merged over the embedded default, on 2 cores (a later ``--cores`` in ``args`` wins), without waiting:
    for runs side by side (a 2-core machine runs a one-core run and another in the time of the longer)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    return Run(cmd, {**os.environ, "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""})


def finish(run: Run, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Wait for a run of :func:`start_snakemake` (killed after ``timeout`` seconds): the completed process,
    stdout and stderr as text; with ``check``, a failed run raises with the end of its output."""
    try:
        run.proc.wait(timeout=timeout)
    finally:
        run.stop()
    output = []
    for stream in (run.stdout, run.stderr):
        stream.seek(0)
        output.append(stream.read())
        stream.close()
    done = subprocess.CompletedProcess(run.cmd, run.proc.returncode, *output)
    if check and done.returncode != 0:
        command = " ".join(run.cmd[3:])
        raise AssertionError(
            f"snakemake {command} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
        )
    return done


def snakemake(
    workdir: Path,
    *args: str,
    configfile: Path = TINY_CONFIG,
    check: bool = True,
    timeout: float = 900,
    snakefile: Path = REPO / "Snakefile",
) -> subprocess.CompletedProcess:
    """Run the real workflow as :func:`start_snakemake` starts it and wait for it: the completed process
    (stdout and stderr as text)."""
    return finish(start_snakemake(workdir, *args, configfile=configfile, snakefile=snakefile), check, timeout)


def tiny() -> dict:
    """A fresh copy of tests/configs/tiny.yaml."""
    import yaml

    return yaml.safe_load(TINY_CONFIG.read_text())


def write_yaml(path: Path, config: dict, sort_keys: bool = False) -> Path:
    """``config`` written to ``path`` as YAML (keys in their order: it is part of some rules' params);
    returns ``path``."""
    import yaml

    path.write_text(yaml.safe_dump(config, sort_keys=sort_keys))
    return path


def tiny_study_config(workdir: Path, study: str | Iterable[str]) -> tuple[Path, dict]:
    """The tiny config restricted to one study (or several), written to ``workdir/tiny.yaml``: (its path,
    the config)."""
    config = tiny()
    config["studies"] = [study] if isinstance(study, str) else list(study)
    return write_yaml(workdir / "tiny.yaml", config), config


def scheduled_rules(dry_run_stdout: str) -> dict[str, int]:
    """Rule -> job count from the job-stats table that ``snakemake -n`` prints (empty when nothing to do)."""
    counts: dict[str, int] = {}
    in_table = False
    for line in dry_run_stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"}:
                in_table = False
    return counts


def default_config() -> dict:
    """A fresh copy of the embedded default config (config.yaml)."""
    import yaml

    return yaml.safe_load((REPO / "config.yaml").read_text())


def merged_config(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base`` as Snakemake merges a ``--configfile`` over the default."""
    from snakemake.utils import update_config

    merged = copy.deepcopy(base)
    update_config(merged, copy.deepcopy(over))
    return merged


def check_config(config: dict) -> None:
    """Validate (a copy of) ``config`` as the Snakefile does; raises featurelab.config.ConfigError."""
    from featurelab.config import validate_config

    validate_config(copy.deepcopy(config), SCHEMA)


def mutated_config(path: list | tuple, value) -> dict:
    """The default config with the key at ``path`` (e.g. ['complexity', 'training', 'epochs']) set to ``value``."""
    config = default_config()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


def study_section(study: str, over: dict | None = None) -> dict:
    """The default config's section of ``study``, with ``over`` (e.g. :func:`tiny`) merged over the default
    as Snakemake merges a ``--configfile``."""
    return merged_config(default_config(), over or {})[study]


def study_claims_config(study: str, **changes) -> dict:
    """The default config's ``<study>.claims`` section with ``changes`` applied."""
    return {**default_config()[study]["claims"], **changes}


def perturbed(frame, columns: Iterable[str], rng, rel: float = 1e-6):
    """A copy of ``frame`` with each of ``columns`` multiplied by (1 +- ``rel``), random signs from ``rng``
    (a last-bits change: the claims' verdicts must not follow it)."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column] * (1 + rel * rng.choice([-1.0, 1.0], len(out)))
    return out


# ------------------------------------------------------------------------------------ shared tiny trees


def copy_tree(source: Path, dest: Path) -> Path:
    """A copy of a built working directory (outputs, logs and Snakemake's metadata) with every mtime kept,
    so that Snakemake sees the copy as up to date exactly when it sees the original so."""
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dest


class TinyTrees:
    """The tiny workflow, built once per test session and copied to every end-to-end test that asserts on a
    complete tiny run (building it costs minutes; copying it, a fraction of a second).

    One master working directory holds the studies built so far (``figures/<study>/all`` on
    tests/configs/tiny.yaml, every study's rules reading only their own config section). Every study of
    ``prebuild`` (those the session's tests will ask for) is built in one run, one DAG keeping the cores
    busier than one run per study: in the background from :meth:`start` (while the tests that need no
    tree run), or at the first request. Tests get copies (:meth:`workdir`) and may change them freely;
    the master is never handed out.
    """

    def __init__(self, root: Path, prebuild: Iterable[str] = ()) -> None:
        self.root = root
        self.master = root / "master"
        self.master.mkdir(parents=True, exist_ok=True)
        self.built: set[str] = set()
        self.prebuild = set(prebuild)
        unknown = self.prebuild - set(STUDIES)
        assert not unknown, f"unknown studies {sorted(unknown)}"
        self._background: tuple[Run, list[str]] | None = None
        self._copies = 0

    def _targets(self, studies: Iterable[str]) -> list[str]:
        return [s for s in STUDIES if s in set(studies) - self.built]

    def start(self) -> None:
        """Start building ``prebuild`` in the background (the session's other tests run meanwhile)."""
        todo = self._targets(self.prebuild)
        if todo and self._background is None:
            self._background = start_snakemake(self.master, *[f"figures/{s}/all" for s in todo]), todo

    def stop(self) -> None:
        """Stop a background build that no test waited for."""
        if self._background is not None:
            self._background[0].stop()

    def ensure(self, studies: Iterable[str]) -> None:
        """Build ``figures/<study>/all`` of each of ``studies`` (and of ``prebuild``) in the master, those
        not built yet (after the background build, if one runs)."""
        studies = set(studies)
        unknown = studies - set(STUDIES)
        assert not unknown, f"unknown studies {sorted(unknown)}"
        if self._background is not None:
            run, todo = self._background
            self._background = None
            finish(run, timeout=1800)
            self.built.update(todo)
        todo = self._targets(studies | self.prebuild)
        if todo:
            snakemake(self.master, *[f"figures/{s}/all" for s in todo])
            self.built.update(todo)

    def workdir(self, dest: Path, studies: Iterable[str], figures_all: bool = True) -> tuple[Path, Path, dict]:
        """A copy of the master at ``dest`` with ``studies`` complete, and the tiny config restricted to
        them (written beside the copy): (workdir, its config file, the config). With ``figures_all`` the
        copy's ``figures/all`` manifest is made for those studies (one job), so that the copy is what a
        complete ``snakemake figures/all`` on that config leaves."""
        studies = list(studies)
        self.ensure(studies)
        workdir = copy_tree(self.master, dest)
        self._copies += 1
        config_dir = self.root / f"config{self._copies}"
        config_dir.mkdir()
        configfile, config = tiny_study_config(config_dir, studies)
        if figures_all:
            snakemake(workdir, "figures/all", configfile=configfile)
        return workdir, configfile, config


def assert_claims_table(claims) -> None:
    """A real run's claims table: every column of the verdict framework, verdicts from the three, and each
    verdict the one its interval, side, threshold and precondition give."""
    from featurelab.claims import CLAIM_COLUMNS, disagreeing_rows

    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert set(claims["verdict"]) <= {"PASS", "FAIL", "INCONCLUSIVE"}
    assert set(claims["kind"]) <= {"claim", "check"}
    assert (claims["source"].str.len() > 0).all(), "every threshold has a written source"
    bad = disagreeing_rows(claims)
    assert bad.empty, f"verdicts that do not follow from their intervals:\n{bad.to_string()}"
