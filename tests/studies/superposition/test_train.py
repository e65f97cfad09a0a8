"""The superposition study's training: batched runs equal separate runs, bit-identical reruns, the hidden
activations in torch and NumPy, and the example selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelab.studies.superposition import train as S

CLF = dict(hidden_units=49, n_classes=10, learning_rate=3e-3, batch_size=32, epochs=2)
AE = dict(code_dim=2, tied=False, learning_rate=3e-3, batch_size=32, epochs=3, record_epochs=[0, 1, 3])


def fake_mnist(n_train=256, n_test=64):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n_train + n_test)
    centers = rng.uniform(0, 1, (10, 784)).astype(np.float32)
    x = np.clip(centers[y] + rng.normal(0, 0.2, (len(y), 784)), 0, 1).astype(np.float32)
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}


@pytest.fixture(scope="module")
def trained():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    data = fake_mnist()
    batched = S.train_classifier(data, [0, 1], CLF, "cpu")
    singles = [S.train_classifier(data, [s], CLF, "cpu") for s in (0, 1)]
    return data, batched, singles


def test_batched_classifier_equals_separate_runs(trained):
    _, (cols, state), singles = trained
    for k, (scols, sstate) in enumerate(singles):
        for name in state:
            assert torch.allclose(state[name][k], sstate[name][0], atol=1e-5), name
        mine = [v for s, v in zip(cols["seed"], cols["value"]) if s == k]
        assert np.allclose(mine, scols["value"], atol=1e-5)
    acc = [
        v
        for e, sp, m, v in zip(cols["epoch"], cols["split"], cols["metric"], cols["value"])
        if sp == "test" and m == "accuracy" and e == CLF["epochs"]
    ]
    assert min(acc) > 0.8  # separable synthetic digits are learned


def test_hidden_activations_numpy_matches_torch(trained):
    data, (_, state), _ = trained
    h_t = S.hidden_activations(state, data["x_test"], "cpu")
    h_n = S.hidden_activations_numpy({k: v.numpy() for k, v in state.items()}, data["x_test"])
    assert h_t.shape == (2, 64, 49) and np.allclose(h_t, h_n, atol=1e-5)
    assert h_n.min() >= 0 and h_n.max() < 1


def test_batched_autoencoder_equals_separate_runs_and_is_deterministic(trained):
    data, (_, state), _ = trained
    h = S.hidden_activations(state, data["x_train"], "cpu")
    hv = S.hidden_activations(state, data["x_test"], "cpu")
    cols, snaps = S.train_autoencoder(h, hv, [0, 1], AE, "cpu")
    assert list(snaps["epochs"]) == [0, 1, 3] and snaps["w_enc"].shape == (2, 3, 2, 49)
    for k in range(2):
        scols, ssnaps = S.train_autoencoder(h[k : k + 1], hv[k : k + 1], [k], AE, "cpu")
        for name in ("w_enc", "b_enc", "w_dec", "b_dec"):
            assert np.allclose(snaps[name][k], ssnaps[name][0], atol=1e-5), name
    again = S.train_autoencoder(h, hv, [0, 1], AE, "cpu")[1]
    for name in ("w_enc", "b_enc", "w_dec", "b_dec"):
        assert np.array_equal(snaps[name], again[name])  # bit-identical rerun
    loss = [v for sd, e, sp, v in zip(cols["seed"], cols["epoch"], cols["split"], cols["value"]) if sp == "train"]
    assert len(loss) == 2 * (AE["epochs"] + 1)


def test_tied_autoencoder_trains(trained):
    data, (_, state), _ = trained
    h = S.hidden_activations(state, data["x_train"], "cpu")[:1]
    _, snaps = S.train_autoencoder(h, h, [0], {**AE, "tied": True}, "cpu")
    assert np.array_equal(snaps["w_dec"][0, -1], snaps["w_enc"][0, -1].T)


def test_select_examples_subset_and_errors():
    data = fake_mnist()
    out = S.select_examples(data, 100, 0)
    assert out["x_train"].shape == (100, 784) and out["x_test"].shape == (64, 784)
    assert np.array_equal(out["x_train"], S.select_examples(data, 100, 0)["x_train"])
    with pytest.raises(KeyError, match="y_test"):
        S.select_examples({k: v for k, v in data.items() if k != "y_test"}, 0, 0)
