"""Analysis quantities of the superposition study on hand-made weights with known answers, and the
vectorised computations against plain loops."""

from __future__ import annotations

import numpy as np
import pytest

from featurelab.studies.superposition import analysis as A


def polygon(k: int, scale: float = 1.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(k) / k
    return scale * np.stack([np.cos(angles), np.sin(angles)])  # (2, k): columns W_i


ORTHOGONAL = np.array([[1.0, 0.0], [0.0, 1.0]])
ANTIPODAL = np.array([[1.0, -1.0], [0.0, 0.0]])


def test_orthogonal_pair():
    assert np.allclose(A.weight_norms(ORTHOGONAL), 1)
    assert np.allclose(A.interference(ORTHOGONAL), 0)
    assert np.allclose(A.interference_cosine(ORTHOGONAL), 0)
    assert np.allclose(A.feature_dimensionality(ORTHOGONAL), 1)
    p = {"w_enc": ORTHOGONAL, "w_dec": ORTHOGONAL.T}
    assert np.allclose(A.wdec_wenc(p), np.eye(2))


def test_antipodal_pair():
    assert np.allclose(A.interference(ANTIPODAL), 1)
    assert np.allclose(A.interference_cosine(ANTIPODAL), 1)
    assert np.allclose(A.feature_dimensionality(ANTIPODAL), 0.5)
    assert np.allclose(A.wdec_wenc({"w_enc": ANTIPODAL, "w_dec": ANTIPODAL.T}), [[1, -1], [-1, 1]])


def test_pentagon():
    w = polygon(5)
    # sum_j cos^2 over a regular pentagon = 1 + 2cos^2(72) + 2cos^2(144) = 5/2
    assert np.allclose(A.feature_dimensionality(w), 0.4)
    assert np.allclose(A.feature_dimensionality(w).sum(), 2.0)  # the pentagon fills both dimensions
    assert np.allclose(A.interference(w), 1.5)
    assert np.allclose(A.weight_norms(w), 1)


def test_absent_feature_and_scaling():
    w = np.concatenate([polygon(5, 2.0), np.zeros((2, 1))], axis=1)
    assert A.weight_norms(w)[-1] == 0 and A.feature_dimensionality(w)[-1] == 0
    assert np.all(np.isfinite(A.interference(w)))
    small = 0.1 * w
    # the notebook's unnormalised sum scales with |W|^4 (why it is ~0 for small weights); the geometry does not
    assert np.allclose(A.interference_unnormalized(small), 1e-4 * A.interference_unnormalized(w))
    assert np.allclose(A.interference_cosine(small), A.interference_cosine(w))
    assert np.allclose(A.feature_dimensionality(small), A.feature_dimensionality(w))
    assert np.allclose(A.interference(small), 0.01 * A.interference(w))


def random_params(rng, n=7, m=2):
    return {
        "w_enc": rng.normal(size=(m, n)),
        "b_enc": rng.normal(size=m) * 0.3,
        "w_dec": rng.normal(size=(n, m)),
        "b_dec": rng.normal(size=n) * 0.3,
    }


def test_importance_matches_a_loop_over_features():
    rng = np.random.default_rng(0)
    p = random_params(rng)
    h = np.maximum(rng.normal(size=(300, 7)), 0)
    base = A.reconstruction_loss(h, p)
    expected = []
    for i in range(7):  # the notebook's loop: zero unit i, loss against the intact input
        hp = h.copy()
        hp[:, i] = 0
        expected.append(np.mean((A.reconstruct(hp, p) - h) ** 2) - base)
    assert np.allclose(A.importance(h, p, chunk=64), expected)


def test_importance_known_answers():
    # orthogonal pair with a linear-ish identity path plus a feature the encoder ignores and a dead unit
    p = {
        "w_enc": np.array([[1.0, 0, 0, 1], [0, 1.0, 0, 0]]),
        "b_enc": np.zeros(2),
        "w_dec": np.array([[1.0, 0], [0, 1.0], [0, 0], [0, 0]]),
        "b_dec": np.zeros(4),
    }
    rng = np.random.default_rng(1)
    h = rng.uniform(0, 0.5, size=(200, 4))
    h[:, 3] = 0.0  # never active
    imp = A.importance(h, p)
    assert imp[2] == pytest.approx(0, abs=1e-15)  # encoder column 0: zeroing it changes nothing
    assert imp[3] == pytest.approx(0, abs=1e-15)  # dead unit
    assert imp[0] > 0 and imp[1] > 0
    assert list(A.importance_order(imp)[:2]) in ([0, 1], [1, 0])


def test_directions_match_a_loop_and_centre_dead_units():
    rng = np.random.default_rng(2)
    p = random_params(rng)
    h = np.maximum(rng.normal(size=(100, 7)), 0)
    h[:, 4] = 0
    expected = []
    for i in range(7):
        only = np.zeros_like(h)
        only[:, i] = h[:, i]
        expected.append(np.tanh(only @ p["w_enc"].T + p["b_enc"]).mean(0))
    d = A.feature_directions(h, p, chunk=16)
    assert np.allclose(d, expected)
    c = A.feature_directions(h, p, center=True)
    assert np.allclose(c[4], 0)  # a never-active unit sits at the origin once centred
    # without bias and for small inputs the direction points along W_i
    p0 = {**p, "b_enc": np.zeros(2)}
    tiny = 1e-4 * np.ones((10, 7))
    d0 = A.feature_directions(tiny, p0)
    cos = (d0 * p["w_enc"].T).sum(1) / np.linalg.norm(d0, axis=1) / np.linalg.norm(p["w_enc"].T, axis=1)
    assert np.allclose(cos, 1)


def test_normalisations_and_counts():
    share = A.importance_share(np.array([3.0, 1.0, 0.0, -0.5, 0.5]))
    assert share.sum() == pytest.approx(1)
    assert np.allclose(A.minmax(np.array([2.0, 4.0, 3.0])), [0, 1, 0.5])
    assert A.features_for_mass(np.array([0.6, 0.2, 0.1, 0.1]), 0.5) == 1
    assert A.features_for_mass(np.array([0.3, 0.3, 0.2, 0.2]), 0.5) == 2
    assert A.features_for_mass(np.array([0.25] * 4), 0.5) == 2
    assert A.participation_ratio(np.array([0.5, 0.5, 0, 0])) == pytest.approx(2)


def test_analyze_run_uses_one_importance_order_everywhere():
    rng = np.random.default_rng(4)
    n = 6
    snaps = {
        k: np.stack([np.stack([random_params(rng, n)[k] for _ in range(2)])])
        for k in ("w_enc", "b_enc", "w_dec", "b_dec")
    }
    snaps["epochs"] = np.array([0, 5])
    h = np.maximum(rng.normal(size=(50, n)), 0)
    feats, wtw = A.analyze_run("superposition", 7, h, snaps, 0, 0.5)
    import pandas as pd

    f = pd.DataFrame(feats)
    last = f[(f["epoch"] == 5) & (f["feature"] >= 0)]
    p = {k: snaps[k][0, 1] for k in ("w_enc", "b_enc", "w_dec", "b_dec")}
    order = A.importance_order(A.importance(h, p))
    bias = last[last["metric"] == "b_dec"].sort_values("importance_rank")
    assert np.allclose(bias["value"], p["b_dec"][order])  # same order, never reversed
    imp = last[last["metric"] == "importance"].sort_values("importance_rank")["value"].to_numpy()
    assert np.all(np.diff(imp) <= 0)
    w = pd.DataFrame(wtw)
    assert set(w["epoch"]) == {5} and len(w) == n * n
    m = np.zeros((n, n))
    m[w["row_rank"], w["col_rank"]] = w["value"]
    assert np.allclose(m, A.wdec_wenc(p)[np.ix_(order, order)])
    assert set(f.loc[f["feature"] == -1, "metric"]) >= {
        "reconstruction_loss",
        "features_for_mass",
        "spearman_importance_w_norm",
    }
