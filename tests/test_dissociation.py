"""The dissociation study: exact function preservation of each manipulation, batched evaluations against
per-network loops, the transfer probe, config rejection, and one end-to-end run of the tiny config."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from featurelab.analysis import dissociation as ad
from featurelab.analysis.claims import CLAIM_COLUMNS
from featurelab.config import ConfigError, schema_errors, validate_config
from featurelab.data.mnist import load_idx_subset, to_arrays
from featurelab.io import read_frame, read_provenance
from featurelab.manifest import read_manifest
from featurelab.models import dissociation as md
from featurelab.studies import dissociation as sd

from conftest import REPO, SCHEMA, snakemake

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def mnist_test():
    """300 real MNIST test images (float32 in [0, 1]) and labels."""
    images, labels = load_idx_subset(REPO / "tests" / "data" / "mnist", "t10k")
    x, y = to_arrays(images[:300], labels[:300])
    return torch.as_tensor(x), torch.as_tensor(y)


@pytest.fixture(scope="module")
def net():
    """A random network with weights large enough that the logits are O(1) (not trained: exactness does
    not depend on training)."""
    w = md.init_weights([784, 48, 40, 10], torch.Generator().manual_seed(0))
    return tuple(t * 3 for t in w)


def assert_same_function(a, b, x):
    la, lb = md.forward(a, x), md.forward(b, x)
    assert torch.allclose(la, lb, rtol=1e-5, atol=1e-5 * float(la.abs().max())), float((la - lb).abs().max())
    assert torch.equal(la.argmax(-1), lb.argmax(-1))


# ------------------------------------------------------------------------------------ manipulations

def test_scaling_preserves_function_and_scales_hidden(net, mnist_test):
    x, _ = mnist_test
    scaled = md.scale_neurons(net, 20.0)
    assert_same_function(net, scaled, x)
    torch.testing.assert_close(md.hidden(scaled, x), 20 * md.hidden(net, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("multiplier, width", [(2.0, 80), (1.2, 48), (1.5, 60), (3.0, 120)])
def test_duplication_preserves_function(net, mnist_test, multiplier, width):
    x, _ = mnist_test
    dup = md.duplicate_neurons(net, multiplier)
    assert dup[1].shape == (width, 48) and dup[2].shape == (10, width)
    assert_same_function(net, dup, x)


def test_duplicate_indices_known_answer():
    index, mult = md.duplicate_indices(5, 1.2)
    assert index.tolist() == [0, 1, 2, 3, 4, 0] and mult.tolist() == [2, 1, 1, 1, 1]
    index, mult = md.duplicate_indices(3, 2)
    assert index.tolist() == [0, 0, 1, 1, 2, 2] and mult.tolist() == [2, 2, 2]
    with pytest.raises(ValueError):
        md.duplicate_indices(3, 0.5)


def test_nuisance_neurons_preserve_function_and_are_active(net, mnist_test):
    x, _ = mnist_test
    h1 = torch.relu(x @ net[0].T)
    for seed in range(6):  # whatever the draw's sign, the shared neurons end up active
        nui = md.add_nuisance_neurons(net, 16, torch.Generator().manual_seed(seed), active_on=h1)
        assert nui[1].shape == (56, 48) and nui[2].shape == (10, 56)
        assert torch.equal(nui[1][40:], nui[1][40:41].expand(16, -1))  # one shared incoming vector
        assert torch.count_nonzero(nui[2][:, 40:]) == 0
        assert_same_function(net, nui, x)
        assert float(md.hidden(nui, x)[:, 40:].mean()) > 0


def test_null_space_perturbation_preserves_function_only_on_its_images(net, mnist_test):
    x, _ = mnist_test
    basis = md.null_basis(x.numpy())
    rank = np.linalg.matrix_rank(x.numpy().astype(np.float64))
    assert basis.shape == (784 - rank, 784)
    np.testing.assert_allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-10)
    assert np.abs(x.numpy().astype(np.float64) @ basis.T).max() < 1e-9
    pert = md.null_space_perturb(net, torch.as_tensor(basis), 0.1, torch.Generator().manual_seed(1))
    assert float((pert[0] - net[0]).abs().max()) > 1e-2  # the weights really move
    assert_same_function(net, pert, x)
    noisy = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    assert float((md.forward(pert, noisy) - md.forward(net, noisy)).abs().max()) > 1e-2


# --------------------------------------------------------------------------------------- evaluations

def _variants(net, x):
    h1 = torch.relu(x @ net[0].T)
    return {"trained": net, "scaled": md.scale_neurons(net, 20.0), "duplicated": md.duplicate_neurons(net, 1.5),
            "nuisance": md.add_nuisance_neurons(net, 8, torch.Generator().manual_seed(3), active_on=h1),
            "null": md.null_space_perturb(net, torch.as_tensor(md.null_basis(x.numpy())), 0.1,
                                          torch.Generator().manual_seed(4))}


def test_batched_input_noise_matches_loop(net, mnist_test):
    x, y = mnist_test
    nets = _variants(net, x)
    sigmas = torch.logspace(-1, 1, 7)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    fast = ad.input_noise_errors(nets, x, y, sigmas, noise)
    slow = ad.input_noise_errors_reference(nets, x, y, sigmas, noise)
    for name in nets:  # equal up to argmax ties flipped by float rounding (at most one image)
        assert float((fast[name] - slow[name]).abs().max()) <= 1 / len(y) + 1e-6, name
    for name in ("scaled", "duplicated", "nuisance"):
        assert float((fast[name] - fast["trained"]).abs().max()) <= 1 / len(y) + 1e-6


def test_batched_parameter_noise_matches_loop(net, mnist_test, monkeypatch):
    x, y = mnist_test
    nets = _variants(net, x)
    del nets["null"]
    sigmas = torch.logspace(-3, 0, 6)
    gen = torch.Generator().manual_seed(6)
    draws = (torch.randn(48, 784, generator=gen), torch.randn(80, 48, generator=gen), torch.randn(10, 80, generator=gen))
    monkeypatch.setattr(ad, "CHUNK_BYTES", {"cpu": 4 * 300 * 200})  # force several chunks of noise levels
    fast = ad.parameter_noise_errors(nets, x, y, sigmas, draws)
    slow = ad.parameter_noise_errors_reference(nets, x, y, sigmas, draws)
    for name in nets:
        assert float((fast[name] - slow[name]).abs().max()) <= 1 / len(y) + 1e-6, name
    assert float(fast["trained"][-1]) > float(fast["trained"][0])  # noise hurts


def test_rotated_dataset_known_answer():
    images = np.arange(8 * 784, dtype=np.float32).reshape(8, 784)
    rot, labels = ad.rotated_dataset(images, np.random.default_rng(0))
    assert np.bincount(labels).tolist() == [2, 2, 2, 2]
    originals = {images[i].tobytes() for i in range(8)}
    for r, k in zip(rot, labels):  # rotating back by k quarter turns recovers one of the inputs
        back = np.rot90(r.reshape(28, 28), k=-int(k)).reshape(-1)
        assert back.tobytes() in originals


def test_fold_ids_partition():
    ids = ad.fold_ids(23, 10)
    assert len(ids) == 23 and sorted(set(ids.tolist())) == list(range(10))
    assert np.bincount(ids).max() - np.bincount(ids).min() <= 1


def test_probe_dual_form_matches_per_fold_reference():
    gen = torch.Generator().manual_seed(8)
    labels = torch.arange(90) % 4
    feats = torch.relu(torch.randn(4, 30, generator=gen)[labels] + 2 * torch.randn(90, 30, generator=gen))
    for l2 in (0.0, 0.1):
        slow = ad.crossval_probe_error_reference(feats, labels, 10, 50, l2)
        primal = ad.crossval_probe_error(feats, labels, 10, 50, l2)  # 90 samples > 31 features: primal branch
        dual = ad.crossval_probe_error(feats[:24], labels[:24], 4, 50, l2)  # 24 <= 31: dual branch
        assert primal == pytest.approx(slow, abs=1 / 90 + 1e-9), l2
        assert dual == pytest.approx(ad.crossval_probe_error_reference(feats[:24], labels[:24], 4, 50, l2),
                                       abs=1 / 24 + 1e-9), l2


def test_probe_learns_separable_and_not_random_labels():
    gen = torch.Generator().manual_seed(7)
    labels = torch.arange(200) % 4
    centers = torch.randn(4, 20, generator=gen) * 5
    feats = centers[labels] + torch.randn(200, 20, generator=gen)
    assert ad.crossval_probe_error(feats, labels, 10, 200, 0.0) < 0.05
    noise = torch.randn(200, 20, generator=gen)
    assert ad.crossval_probe_error(noise, labels, 10, 200, 0.0) > 0.5  # chance is 0.75


# -------------------------------------------------------------------------------- study-level pieces

def tiny_config() -> dict:
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    tiny = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    return {**base["dissociation"], **tiny["dissociation"]}


def test_training_is_deterministic_and_learns(mnist_test):
    x, y = mnist_test
    data = {"x_train": x.numpy()[:200], "y_train": y.numpy()[:200], "x_test": x.numpy()[200:],
            "y_test": y.numpy()[200:]}
    cfg = tiny_config()
    training = {**cfg["training"], "epochs": 3, "batch_size": 50}
    cols_a, state_a = sd.train_run(0, data, cfg["model"], training, "cpu")
    cols_b, state_b = sd.train_run(0, data, cfg["model"], training, "cpu")
    assert cols_a == cols_b
    for k in state_a:
        assert torch.equal(state_a[k], state_b[k])
    frame = pd.DataFrame(cols_a)
    loss = frame[frame.metric == "train_loss"].sort_values("x")["value"].to_numpy()
    assert loss[-1] < loss[0]
    assert list(frame.columns) == list(sd.RESULT_COLUMNS)


def test_variants_follow_the_notebook():
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())["dissociation"]
    by_name = {v.condition: v.evaluations for v in sd.variants(cfg)}
    assert by_name["duplicated_m2"] == ("input_noise", "parameter_noise")
    assert by_name["duplicated_m1.2"] == ("transfer",)
    assert by_name["nuisance_n1024"] == ("input_noise", "parameter_noise")
    assert by_name["nuisance_n128"] == ("transfer",)
    assert by_name["null_space_s0.1"] == ("input_noise",)
    assert set(by_name["trained"]) == set(by_name["scaled_c20"]) == {"input_noise", "parameter_noise", "transfer"}


@pytest.mark.parametrize("path, value, message", [
    (("model", "hidden_widths"), [64, 64, 64], "hidden_widths"),
    (("manipulations", "duplicate_multiplier", "noise"), 0.5, "noise"),
    (("manipulations", "scale_factor"), -2, "scale_factor"),
    (("evaluation", "input_noise", "n"), 1, "n"),
    (("plot", "band"), "iqr", "band"),
    (("transfer", "sample_fractions"), [0.0, 1.0], "sample_fractions"),
    (("training", "momentum"), 0.9, "unknown keys"),
])
def test_schema_rejects_bad_values(path, value, message):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    node = cfg["dissociation"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = schema_errors(cfg, SCHEMA)
    assert any("dissociation" in e and message in e for e in errors), errors


def test_semantic_error_for_inverted_grid():
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["dissociation"]["evaluation"]["parameter_noise"].update(min=1.0, max=1e-4)
    with pytest.raises(ConfigError, match="dissociation.evaluation.parameter_noise"):
        validate_config(copy.deepcopy(cfg), SCHEMA)


# -------------------------------------------------------------------------------------- end to end

@pytest.mark.e2e
def test_workflow_tiny(tmp_path):
    snakemake(tmp_path, "figures/dissociation/all")
    for name in ("input_noise", "parameter_noise", "transfer"):
        for ext in ("pdf", "png"):
            assert (tmp_path / "figures" / "dissociation" / f"{name}.{ext}").stat().st_size > 1000
    rows = read_manifest(tmp_path / "figures" / "dissociation" / "all")
    assert len(rows) == 6 and {r["study"] for r in rows} == {"dissociation"}
    assert all(len(r["sha256"]) == 64 for r in rows)

    runs = read_frame(tmp_path / "results" / "dissociation" / "runs.parquet")
    assert list(runs.columns) == list(sd.RESULT_COLUMNS)
    assert set(runs["evaluation"]) == {"training", "exactness", "input_noise", "parameter_noise", "transfer"}
    assert sorted(runs["seed"].unique()) == [0, 1]
    assert set(runs["model"]) == set(sd.MODELS)
    summary = read_frame(tmp_path / "results" / "dissociation" / "summary.parquet")
    assert {"mean", "sd", "n", "ci_low", "ci_high", "condition", "x", "metric"} <= set(summary.columns)
    claims = read_frame(tmp_path / "results" / "dissociation" / "claims.parquet")
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert set(claims["claim"]) >= {"function_preserved", "same_input_noise_curve", "null_space_less_input_robust",
                                    "less_parameter_robust", "nuisance_hurts_transfer"}
    # exactness holds at any scale: these claims must pass even on the tiny config
    assert claims[claims["claim"] == "function_preserved"]["passed"].all()
    prov = read_provenance(tmp_path / "results" / "dissociation" / "seed0" / "evaluation.parquet")
    assert prov["config"]["seed"] == 0 and "manipulations" in prov["config"]
    # a second run has nothing to do
    again = snakemake(tmp_path, "figures/dissociation/all", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
