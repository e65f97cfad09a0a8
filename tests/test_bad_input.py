"""Bad input, fed to the real workflow: each case ends with one clear error that names the key or the
file (a diverging run names study, condition, seed and step) and leaves no partial output behind.

Config errors are checked twice: cheaply against the validator for many keys of every study, and through
``snakemake`` for one case of each kind (the run must stop before any job, so no ``results/`` at all).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import yaml

from featurelab.config import ConfigError, validate_config
from tests.helpers import REPO, SCHEMA, TINY_CONFIG, default_config, merged_config, snakemake

pytestmark = pytest.mark.e2e

MNIST_DATA = REPO / "tests" / "data" / "mnist"
TINY = yaml.safe_load(TINY_CONFIG.read_text())


def write_config(tmp_path: Path, over: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(merged_config(TINY, over)))
    return path


def produced_files(workdir: Path) -> list[str]:
    """Everything the run left under results/ and figures/, except logs and benchmark records."""
    out = []
    for root in ("results", "figures"):
        for p in (workdir / root).rglob("*"):
            rel = p.relative_to(workdir).as_posix()
            if p.is_file() and not rel.startswith(("results/logs/", "results/benchmarks/")):
                out.append(rel)
    return sorted(out)


def no_temporary_or_checkpoint_files(workdir: Path) -> None:
    leftovers = [
        p
        for p in workdir.rglob("*")
        if p.is_file() and ".snakemake" not in p.parts and (p.name.startswith(".") or p.name.endswith(".ckpt"))
    ]
    assert not leftovers, leftovers


# ------------------------------------------------------------------------------------- bad configs

BAD_CONFIGS = [
    # wrong types
    ({"complexity": {"dataset": {"n_train": "many"}}}, "'complexity.dataset.n_train': 'many' is not of type"),
    ({"hierarchy": {"training": {"steps": 1.5}}}, "'hierarchy.training.steps': 1.5 is not of type 'integer'"),
    ({"superposition": {"classifier": {"learning_rate": "fast"}}}, "'superposition.classifier.learning_rate': 'fast'"),
    ({"learnability": {"model": {"hidden": [8]}}}, "'learnability.model.hidden': [8] is not of type 'integer'"),
    ({"dissociation": {"model": {"hidden_widths": "32,32"}}}, "'dissociation.model.hidden_widths': '32,32'"),
    # unknown keys
    ({"complexity": {"training": {"epoch": 3}}}, "'complexity.training': Additional properties are not allowed"),
    ({"superposition": {"autoencoder": {"tide": True}}}, "'superposition.autoencoder'"),
    ({"complexty": {}}, "config key '<top level>': Additional properties are not allowed ('complexty'"),
    # empty seed lists
    ({"complexity": {"seeds": []}}, "'complexity.seeds': [] should be non-empty"),
    ({"hierarchy": {"seeds": []}}, "'hierarchy.seeds': [] should be non-empty"),
    ({"dissociation": {"seeds": []}}, "'dissociation.seeds': [] should be non-empty"),
    ({"superposition": {"seeds": []}}, "'superposition.seeds': [] should be non-empty"),
    ({"learnability": {"seeds": []}}, "'learnability.seeds': [] should be non-empty"),
    # out-of-range values
    ({"complexity": {"training": {"epochs": 0}}}, "'complexity.training.epochs': 0 is less than the minimum of 1"),
    ({"hierarchy": {"training": {"learning_rate": -0.1}}}, "'hierarchy.training.learning_rate': -0.1"),
    (
        {"dissociation": {"evaluation": {"input_noise": {"min": 5.0, "max": 1.0, "n": 3}}}},
        "'dissociation.evaluation.input_noise': min 5.0 must be below max 1.0",
    ),
    ({"superposition": {"autoencoder": {"record_epochs": [0, 99]}}}, "'superposition.autoencoder.record_epochs'"),
    ({"learnability": {"training": {"batch_size": 0}}}, "'learnability.training.batch_size': 0"),
    ({"mnist": {"n_test": -1}}, "'mnist.n_test': -1"),
    ({"figures": {"dpi": 5}}, "'figures.dpi': 5 is less than the minimum of 50"),
    ({"checkpoint": {"every_steps": -1}}, "'checkpoint.every_steps': -1 is less than the minimum of 0"),
]


@pytest.mark.parametrize("over, expected", BAD_CONFIGS, ids=[e[1][:40] for e in BAD_CONFIGS])
def test_bad_config_is_named(over, expected):
    config = merged_config(merged_config(default_config(), TINY), over)
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "over, expected",
    [
        ({"hierarchy": {"training": {"steps": "300"}}}, "'hierarchy.training.steps': '300' is not of type 'integer'"),
        ({"superposition": {"classifer": {"epochs": 2}}}, "('classifer' was unexpected)"),
        ({"learnability": {"seeds": []}}, "'learnability.seeds': [] should be non-empty"),
        ({"dissociation": {"transfer": {"folds": 0}}}, "'dissociation.transfer.folds': 0"),
    ],
    ids=["wrong type", "unknown key", "empty seeds", "out of range"],
)
def test_bad_config_stops_the_workflow_before_any_job(tmp_path, over, expected):
    proc = snakemake(tmp_path / "work", "figures/all", configfile=write_config(tmp_path, over), check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.count("invalid config:") == 1, proc.stderr[-3000:]  # one error, not a dump
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "work" / "results").exists()


# ------------------------------------------------------------------------------------- bad MNIST


def mnist_config(tmp_path: Path, folder: Path, verify: bool = True) -> Path:
    return write_config(
        tmp_path,
        {
            "studies": ["dissociation"],
            "mnist": {
                "source": "idx",
                "path": str(folder),
                "subsets": ["t10k"],
                "split": "random",
                "n_test": 1000,
                "verify": verify,
            },
        },
    )


def copy_mnist(folder: Path, raw: bool = False) -> None:
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        data = (MNIST_DATA / f"{name}.gz").read_bytes()
        if raw:
            (folder / name).write_bytes(gzip.decompress(data))
        else:
            (folder / f"{name}.gz").write_bytes(data)


def run_mnist(tmp_path: Path, configfile: Path) -> tuple[object, Path]:
    work = tmp_path / "work"
    proc = snakemake(work, "results/mnist/mnist.npz", configfile=configfile, check=False)
    assert proc.returncode != 0
    assert not (work / "results" / "mnist" / "mnist.npz").exists()
    assert produced_files(work) == []
    no_temporary_or_checkpoint_files(work)
    return proc, work


def test_truncated_mnist_file_is_named(tmp_path):
    folder = tmp_path / "mnist"
    copy_mnist(folder, raw=True)
    images = folder / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-1000])
    proc, _ = run_mnist(tmp_path, mnist_config(tmp_path, folder))
    assert f"MNIST file {images} is truncated or corrupt" in proc.stderr, proc.stderr[-3000:]


def test_truncated_gzip_is_named(tmp_path):
    folder = tmp_path / "mnist"
    copy_mnist(folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:2000])
    proc, _ = run_mnist(tmp_path, mnist_config(tmp_path, folder, verify=False))  # no MD5: the gzip layer catches it
    assert f"MNIST file {labels} is not a valid gzip file" in proc.stderr, proc.stderr[-3000:]


def test_checksum_mismatch_is_named(tmp_path):
    folder = tmp_path / "mnist"
    copy_mnist(folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(labels.read_bytes())
    data[200] ^= 0x01  # one flipped bit
    labels.write_bytes(bytes(data))
    proc, _ = run_mnist(tmp_path, mnist_config(tmp_path, folder))
    assert f"MNIST file {labels} fails its MD5 check" in proc.stderr, proc.stderr[-3000:]


def test_missing_data_folder_is_named(tmp_path):
    missing = tmp_path / "no" / "such" / "folder"
    proc = snakemake(tmp_path / "work", "figures/all", configfile=mnist_config(tmp_path, missing), check=False)
    assert proc.returncode != 0
    assert f"config key 'mnist.path': folder {str(missing)!r} does not exist" in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.count("invalid config:") == 1
    assert not (tmp_path / "work" / "results").exists()


# ------------------------------------------------------------------------------------- divergence


def test_diverging_training_names_run_and_step_and_leaves_nothing(tmp_path):
    """SGD with learning rate 1000 on the tiny complexity network really diverges (loss nan at step 3)."""
    over = {
        "studies": ["complexity"],
        "complexity": {
            "seeds": [0],
            "feature_pairs": [["linear", "xor_xor_xor"]],
            "claims": {"reference_pair": ["linear", "xor_xor_xor"]},
            "training": {"optimizer": "sgd", "learning_rate": 1000.0},
        },
    }
    work = tmp_path / "work"
    proc = snakemake(work, "figures/all", configfile=write_config(tmp_path, over), check=False)
    assert proc.returncode != 0
    message = "training diverged: study 'complexity', condition 'linear-vs-xor_xor_xor', seed 0: loss is nan at step 3"
    assert message in proc.stderr, proc.stderr[-3000:]
    assert "featurelab error in rule complexity_train" in proc.stderr
    # Only the dataset job's output survives (beside the report's Vega bundle, which needs no training and
    # may run first); the failed training job left no model, metrics or checkpoint.
    produced = [f for f in produced_files(work) if f != "results/report/vega_bundle.js"]
    assert produced == ["results/complexity/linear-vs-xor_xor_xor/seed0/dataset.npz"]
    no_temporary_or_checkpoint_files(work)
