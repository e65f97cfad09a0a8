"""Every shell command in README.md, CONTRIBUTING.md, docs/*.md, config/README.md and profiles/README.md works
as typed.

Which text is a command (the rule; a new docs command is tested without anyone listing it here):

- Fenced code blocks labelled ``bash``, ``sh``, ``shell``, ``zsh`` or ``console`` are shell. In a ``console``
  block only lines starting with ``$ `` are commands (the rest is output); elsewhere every line is.
- An unlabelled fenced block is shell when one of its lines starts with a program this test knows
  (``snakemake``, ``.venv/bin/python``, ``bash``, ...); otherwise it is text (the layout listing, DAG
  sketches). A text line that still looks like a command (a first word, then an option such as ``-n`` or
  ``--cores``) fails the test: label its block ``bash``, or ``text`` if it is not meant to be run.
- Comments (``# ...``) are dropped, backslash continuations joined, and ``&&`` / ``;`` split a line into
  commands. Pipes, redirections and unknown programs fail the test ("unknown command shape"): extend
  :func:`plan` when the docs need one, with a check that actually runs it.

How each command is checked, in a temporary copy of the repository (``.venv`` there is a link to the
environment running this test, and its ``bin/`` is first on PATH, as after ``source .venv/bin/activate``;
nothing touches the clone's own ``results/``):

- ``snakemake`` that runs jobs: as typed with ``-n`` inserted right after the program (a dry run builds
  the whole DAG, so a swallowed target, a bad option or a config error fails; runs take minutes to hours).
- ``snakemake`` that runs no jobs (``-n``, ``--unlock``, ``--lint``, ``--help``, ``--list-changes``,
  ``--summary``, ...): as typed.
- ``snakemake --report``: needs a finished run (on an empty tree Snakemake refuses: the figures marked
  for the report do not exist). Here: a dry run of the same command without ``--report``, which builds
  the DAG the report is made from; tests/test_report.py makes a report of a real tiny run.
- ``snakemake --profile profiles/slurm ...``: needs a SLURM cluster. Here: dry run as above (the executor
  plugin is not contacted in a dry run, so this checks the arguments, the profile and the DAG);
  tests/test_slurm.py submits the same tiny workflow to a real single-node SLURM when it can start one.
- ``python benchmarks/X.py ...``: as typed, under a shim that stops the script as soon as ``argparse``
  has accepted the arguments (benchmarks take minutes; their numbers are not what this test checks).
- ``python -m pytest ...``: as typed plus ``--collect-only -q`` (running the suite inside one of its own
  tests would recurse): checks the command line and that every test module imports.
- ``python tests/slurm_local.py install|start|stop DIR``, ``sinfo``, ``cat /tmp/featurelab-slurm/...``:
  need root and a running SLURM, which tests/test_slurm.py sets up (through the same slurm_local
  functions). Here: the action is one slurm_local.py accepts, and the line parses as shell (``bash -n``).
- ``bash setup.sh``, ``apt-get install ...``: install software (into ``.venv``, or the system). Here: syntax
  only (``bash -n``); CI runs setup.sh in a fresh clone, tests/test_slurm.py installs the packages.
- ``cp -r profiles/A profiles/B`` (copying a profile to adapt it): as typed, in the temporary copy. The checks
  run in parallel, so no other docs command may rely on the copy.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO

DOCS = [
    REPO / "README.md",
    REPO / "CONTRIBUTING.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "config" / "README.md",  # shown on the workflow catalog's page
    REPO / "profiles" / "README.md",
]
SHELL_LABELS = {"bash", "sh", "shell", "zsh", "console"}
SNAKEMAKE = {"snakemake", ".venv/bin/snakemake"}
PYTHON = {"python", "python3", ".venv/bin/python", ".venv/bin/python3"}
KNOWN_PROGRAMS = SNAKEMAKE | PYTHON | {"bash", "apt-get", "sinfo", "squeue", "cat"}
#: snakemake options after which it runs no job (so the command runs as typed).
NO_JOB_OPTIONS = {
    "-n",
    "--dry-run",
    "--dryrun",
    "--unlock",
    "--lint",
    "--help",
    "-h",
    "--version",
    "-v",
    "--list-changes",
    "--lc",
    "--list-params-changes",
    "--lp",
    "--list-input-changes",
    "--li",
    "--summary",
    "-S",
    "--detailed-summary",
    "-D",
    "--list-rules",
    "--list",
    "-l",
    "--list-target-rules",
    "--lt",
    "--rulegraph",
    "--dag",
    "--filegraph",
}
SLURM_DIR = "/tmp/featurelab-slurm"
#: Stops a script once argparse accepted its arguments (see the module docstring).
ARGPARSE_SHIM = """
import argparse, os, runpy, sys
_parse = argparse.ArgumentParser.parse_args
def _accept_then_stop(self, *args, **kwargs):
    _parse(self, *args, **kwargs)
    print("docs-commands: arguments accepted")
    sys.exit(0)
argparse.ArgumentParser.parse_args = _accept_then_stop
sys.argv = sys.argv[1:]
sys.path.insert(0, "src")
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))  # as python does for a script
runpy.run_path(sys.argv[0], run_name="__main__")
raise SystemExit("docs-commands: the script finished without parsing arguments with argparse")
"""


@dataclass(frozen=True)
class Command:
    source: str  # file:line, for messages
    text: str  # the command as the docs show it (comment removed, continuations joined)
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def program(self) -> str:
        return self.argv[0]


LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


def fenced_blocks(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line number of the first content line, label, content lines) of every code block in ``path``:
    fenced ones (with their label), and indented ones (4 spaces after a blank line, outside a list; label
    ``""`` like an unlabelled fence)."""
    blocks, current, indented = [], None, None
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        fence = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", line)
        if current is not None:
            if fence and fence.group(2) == current[4] and not fence.group(3):
                blocks.append(current[:3])
                current = None
            else:
                indent = current[3]
                current[2].append(line[indent:] if line[:indent].strip() == "" else line)
            continue
        if indented is not None:
            if line.startswith("    ") or not line.strip():
                indented[2].append(line[4:])
                continue
            blocks.append((indented[0], "", [x for x in indented[2]]))
            indented = None
        if fence:
            current = (number + 1, fence.group(3).lower(), [], len(fence.group(1)), fence.group(2))
        elif line.startswith("    ") and line.strip() and number > 1 and not lines[number - 2].strip():
            before = next((x for x in reversed(lines[: number - 2]) if x.strip()), "")
            if not (LIST_ITEM.match(before) or before.startswith((" ", "\t"))):  # not a list's continuation
                indented = (number, "", [line[4:]])
    assert current is None, f"{path.name}: unclosed code block starting at line {current[0] - 1}"
    if indented is not None:
        blocks.append(indented)
    return blocks


def logical_lines(first: int, lines: list[str], console: bool) -> list[tuple[int, str]]:
    out, pending, start = [], "", first
    for offset, line in enumerate(lines):
        if console and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not pending:
            start = first + offset
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def split_commands(source: str, line: str) -> list[Command]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    commands, current = [], []
    for token in tokens + [";"]:
        if token in ("&&", ";"):
            if current:
                env = []
                while current and re.fullmatch(r"[A-Za-z_]\w*=.*", current[0]):
                    key, _, value = current.pop(0).partition("=")
                    env.append((key, value))
                assert current, f"{source}: an environment assignment without a command: {line!r}"
                text = shlex.join([f"{k}={v}" for k, v in env] + current)
                commands.append(Command(source, text, tuple(current), tuple(env)))
                current = []
        elif set(token) <= set("|&<>()"):
            raise AssertionError(
                f"{source}: unknown command shape (pipe/redirection {token!r}) in {line!r}: "
                "extend tests/test_docs_commands.py:plan to check it"
            )
        else:
            current.append(token)
    return commands


def looks_like_command(line: str) -> bool:
    words = line.split()
    return (
        bool(words)
        and bool(re.fullmatch(r"[\w./-]+", words[0]))
        and any(re.fullmatch(r"--?[a-zA-Z][\w-]*(=.*)?", w) for w in words[1:])
    )


def docs_commands() -> tuple[list[Command], list[str]]:
    """Every command of the docs, and the problems found while extracting them (each fails a test)."""
    commands, problems = [], []
    for path in DOCS:
        name = path.relative_to(REPO)
        for first, label, lines in fenced_blocks(path):
            starts = [line.split()[0] for line in lines if line.split()]
            shell = label in SHELL_LABELS or (
                label == "" and any(s in KNOWN_PROGRAMS or re.fullmatch(r"[A-Za-z_]\w*=\S*", s) for s in starts)
            )
            if not shell:
                problems.extend(
                    f"{name}:{first + offset}: {line.strip()!r} looks like a command in a block that is not shell: "
                    "label the block bash (it will be run) or text"
                    for offset, line in enumerate(lines)
                    if looks_like_command(line)
                )
                continue
            for number, line in logical_lines(first, lines, console=label == "console"):
                try:
                    commands.extend(split_commands(f"{name}:{number}", line))
                except AssertionError as error:
                    problems.append(str(error))
    return commands, problems


COMMANDS, PROBLEMS = docs_commands()


@dataclass(frozen=True)
class Check:
    kind: str  # run | dry-run | arguments | collect | usage | syntax
    argv: tuple[str, ...]
    why: str
    expect: str = ""  # usage: a word the program's usage message must name


def plan(command: Command) -> list[Check]:
    """How ``command`` is checked (see the module docstring); an unknown shape fails."""
    argv, program = command.argv, command.program
    if program in SNAKEMAKE:
        options = {a.split("=")[0] for a in argv[1:]}
        if "--report" in options:
            dry = (argv[0], "-n", *[a for a in argv[1:] if a.split("=")[0] != "--report" and not a.endswith(".html")])
            return [
                Check(
                    "dry-run",
                    dry,
                    "the report needs a finished run: here the DAG it is built from; "
                    "tests/test_report.py makes one of a tiny run",
                )
            ]
        if options & NO_JOB_OPTIONS:
            return [Check("run", argv, "runs no jobs")]
        why = (
            "needs SLURM: dry run checks arguments, profile and DAG"
            if "profiles/slurm" in argv
            else "runs jobs: dry run"
        )
        return [Check("dry-run", (argv[0], "-n", *argv[1:]), why)]
    if program in PYTHON:
        if argv[1:3] == ("-m", "pytest"):
            return [Check("collect", (*argv, "--collect-only", "-q"), "running the suite here would recurse")]
        if len(argv) > 1 and argv[1].startswith("benchmarks/") and argv[1].endswith(".py"):
            return [Check("arguments", (argv[0], "-c", ARGPARSE_SHIM, *argv[1:]), "benchmarks take minutes")]
        if len(argv) == 4 and argv[1] == "tests/slurm_local.py":
            why = "needs root and SLURM: tests/test_slurm.py runs slurm_local.install/start/stop"
            return [
                Check("usage", argv[:2], why, expect=argv[2]),
                Check("syntax", ("bash", "-n", "-c", command.text), why),
            ]
    if program == "bash" and len(argv) > 1 and argv[1].startswith("benchmarks/") and argv[1].endswith(".sh"):
        why = "a GPU machine's check, or a download of wheels: minutes, and the network"
        return [Check("syntax", ("bash", "-n", argv[1]), why)]
    if program == "bash" and argv[1:] == ("setup.sh",):
        return [Check("syntax", ("bash", "-n", "setup.sh"), "installs .venv (CI runs it in a fresh clone)")]
    if program == "apt-get" and argv[1:2] == ("install",):
        return [Check("syntax", ("bash", "-n", "-c", command.text), "installs system packages (needs root)")]
    if program == "cp" and len(argv) == 4 and argv[1] == "-r" and all(a.startswith("profiles/") for a in argv[2:]):
        return [Check("run", argv, "copies a profile, inside the temporary copy of the repository")]
    if program in ("sinfo", "squeue") or (program == "cat" and all(a.startswith(SLURM_DIR) for a in argv[1:])):
        return [Check("syntax", ("bash", "-n", "-c", command.text), "needs the SLURM of tests/slurm_local.py")]
    raise AssertionError(
        f"{command.source}: unknown command shape {command.text!r}: extend "
        "tests/test_docs_commands.py:plan with a check that runs it"
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A copy of the repository's files (no results, no .git) with .venv linked to this environment."""
    where = tmp_path_factory.mktemp("docs") / "featurelab"
    shutil.copytree(
        REPO,
        where,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "results",
            "figures",
            "resources",
            ".snakemake",
            "__pycache__",
            "*.egg-info",
            ".pytest_cache",
            "report.html",
        ),
    )
    (where / ".venv").symlink_to(Path(sys.prefix))
    return where


@pytest.fixture(scope="module")
def outcomes(clone) -> dict[tuple, subprocess.CompletedProcess]:
    """Every check of every docs command, run once each (a command shown in several places runs once),
    two at a time (the dry runs are single-threaded)."""
    from concurrent.futures import ThreadPoolExecutor

    todo = {}
    for command in COMMANDS:
        for check in checks_or_none(command):
            todo.setdefault((check.argv, command.env), (check, command))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run_check, check, command, clone) for key, (check, command) in todo.items()}
    return {key: future.result() for key, future in futures.items()}


def run_check(check: Check, command: Command, clone: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(clone / "src"),
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONHASHSEED": "0",
        **dict(command.env),
    }
    if command.env and "PYTHONPATH" in dict(command.env):  # as typed, relative to the clone
        env["PYTHONPATH"] = os.pathsep.join(str(clone / p) for p in dict(command.env)["PYTHONPATH"].split(os.pathsep))
    if "SNAKEMAKE_OUTPUT_CACHE" in env and check.kind != "syntax":  # the docs ask for an existing folder
        os.makedirs(env["SNAKEMAKE_OUTPUT_CACHE"], exist_ok=True)
    argv = list(check.argv)
    if check.kind != "syntax" and argv[0] in ("snakemake", "python", "python3"):
        argv[0] = str(Path(sys.prefix) / "bin" / argv[0])
    return subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=600)


def test_the_docs_have_commands_and_every_one_has_a_check():
    problems = list(PROBLEMS)
    for command in COMMANDS:
        try:
            plan(command)
        except AssertionError as error:
            problems.append(str(error))
    assert not problems, "\n".join(problems)
    assert len(COMMANDS) >= 15
    assert any("figures/all" in c.argv for c in COMMANDS)


def checks_or_none(command: Command) -> list[Check]:
    try:
        return plan(command)
    except AssertionError:  # reported by test_the_docs_have_commands_and_every_one_has_a_check
        return []


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{c.source}:{c.program}")
def test_docs_command_works_as_typed(command, clone, outcomes):
    checks = checks_or_none(command)
    if not checks:
        pytest.fail(f"{command.source}: unknown command shape {command.text!r}")
    for check in checks:
        proc = outcomes[(check.argv, command.env)]
        out = proc.stdout + proc.stderr
        where = f"{command.source}: {command.text}\n({check.kind}: {check.why})\n{out[-3000:]}"
        if check.kind == "usage":  # the program without arguments prints its usage; the action must be in it
            assert proc.returncode != 0 and re.search(rf"\b{re.escape(check.expect)}\b", out), where
            continue
        assert proc.returncode == 0, where
        if check.kind == "dry-run":
            assert "This was a dry-run" in out or "Nothing to be done" in out, where
            profile_defaults_kept(command, clone, proc.stdout)
        if check.kind == "arguments":
            assert "docs-commands: arguments accepted" in out, where
    assert not (clone / "results").exists() or not any((clone / "results").rglob("*.parquet")), (
        f"{command.source} wrote results"
    )


def profile_defaults_kept(command: Command, clone: Path, dry_run_stdout: str) -> None:
    """``--default-resources`` on the command line replaces a profile's whole list: a docs command that
    sets it with ``--profile`` must repeat the profile's defaults (every job still gets each of them)."""
    argv = list(command.argv)
    if "--default-resources" not in argv or "--profile" not in argv:
        return
    import yaml

    profile = yaml.safe_load((clone / argv[argv.index("--profile") + 1] / "config.yaml").read_text())
    keys = list(profile.get("default-resources", {}))
    lines = [line for line in dry_run_stdout.splitlines() if line.strip().startswith("resources:")]
    assert lines, dry_run_stdout[-2000:]
    for line in lines:
        missing = [k for k in keys if f" {k}=" not in line.replace(",", " ")]
        assert not missing, f"{command.source}: jobs lose the profile's default resources {missing}: {line}"


def test_the_rules_of_this_test_hold(tmp_path):
    """The extractor itself: what counts as a command, and that unknown shapes fail."""
    doc = tmp_path / "x.md"
    doc.write_text(
        "```\nsnakemake --cores 2 \\\n    figures/all   # all\n```\n\n```text\nSnakefile  rules\n```\n"
        "\n  ```console\n  $ .venv/bin/snakemake -n figures/all && sinfo\n  output line\n  ```\n"
    )
    blocks = fenced_blocks(doc)
    assert [b[1] for b in blocks] == ["", "text", "console"]
    indented = tmp_path / "y.md"
    indented.write_text("Run:\n\n    snakemake -n figures/all\n\nText.\n\n- a list item\n\n    its second paragraph\n")
    assert fenced_blocks(indented) == [(3, "", ["snakemake -n figures/all", ""])]
    lines = logical_lines(blocks[0][0], blocks[0][2], console=False)
    assert lines == [(2, "snakemake --cores 2      figures/all   # all")]
    (command,) = split_commands("x.md:2", lines[0][1])
    assert command.argv == ("snakemake", "--cores", "2", "figures/all")
    assert plan(command)[0].argv == ("snakemake", "-n", "--cores", "2", "figures/all")
    console = logical_lines(blocks[2][0], blocks[2][2], console=True)
    assert [c.program for c in split_commands("x.md:10", console[0][1])] == [".venv/bin/snakemake", "sinfo"]
    with pytest.raises(AssertionError, match="unknown command shape"):
        split_commands("x", "snakemake -n figures/all | tee log")
    with pytest.raises(AssertionError, match="unknown command shape"):
        plan(split_commands("x", "conda env create -f environment.yml")[0])
    assert looks_like_command("mamba env create -f environment.yml")
    assert not looks_like_command("Snakefile                   configfile, schema validation")
