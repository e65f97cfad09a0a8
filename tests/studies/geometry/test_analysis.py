"""The geometry study's analysis: the dimensionality of known geometries (the paper's fractions), effective
features, and the aggregation job's tables (with the figures drawn from them)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from featurelab.studies.geometry import analysis, train
from tests.helpers import study_section, tiny


def polygon(k: int) -> np.ndarray:
    """k unit vectors evenly around a circle: columns of a (2, k) matrix."""
    a = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(a), np.sin(a)])


def tetrahedron() -> np.ndarray:
    v = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float).T
    return v / np.sqrt(3)


def square_antiprism() -> np.ndarray:
    """8 unit vectors: two squares rotated by 45 degrees, at the height that makes the frame isotropic
    (sum of w w^T proportional to the identity: tan^2 phi = 2), the configuration with D = 3/8."""
    phi = math.atan(math.sqrt(2))
    theta = np.pi / 4 * np.arange(8)
    z = np.where(np.arange(8) % 2 == 0, 1.0, -1.0) * math.cos(phi)
    return np.stack([np.cos(theta) * math.sin(phi), np.sin(theta) * math.sin(phi), z])


def block(*parts: np.ndarray, m: int | None = None) -> np.ndarray:
    """Place each (d_k, n_k) geometry in its own d_k dimensions (orthogonal blocks) of one W."""
    d = sum(p.shape[0] for p in parts)
    W = np.zeros((m or d, sum(p.shape[1] for p in parts)))
    r = c = 0
    for p in parts:
        W[r : r + p.shape[0], c : c + p.shape[1]] = p
        r, c = r + p.shape[0], c + p.shape[1]
    return W


@pytest.mark.parametrize(
    "W, expected",
    [
        (np.eye(3), 1.0),
        (polygon(2), 1 / 2),  # antipodal pair (digon)
        (polygon(3), 2 / 3),  # triangle
        (polygon(5), 2 / 5),  # pentagon
        (tetrahedron(), 3 / 4),
        (square_antiprism(), 3 / 8),
    ],
)
def test_dimensionality_of_known_geometries(W, expected):
    D = analysis.dimensionality(W)
    np.testing.assert_allclose(D, expected, rtol=0, atol=1e-12)
    # scale-free: a uniformly scaled geometry has the same D (the paper's definition uses unit vectors)
    np.testing.assert_allclose(analysis.dimensionality(0.3 * W), expected, rtol=0, atol=1e-12)
    assert analysis.dims_per_feature(W) == pytest.approx(W.shape[0] / W.shape[1])


def test_dimensionality_of_orthogonal_blocks_and_unused_features():
    # a digon, a triangle and a pentagon in orthogonal planes of a 7-dim space, plus two features with W_i = 0
    W = np.concatenate([block(polygon(2)[:1], polygon(3), polygon(5), m=7), np.zeros((7, 2))], axis=1)
    D = analysis.dimensionality(W)
    np.testing.assert_allclose(D[:2], 1 / 2, atol=1e-12)
    np.testing.assert_allclose(D[2:5], 2 / 3, atol=1e-12)
    np.testing.assert_allclose(D[5:10], 2 / 5, atol=1e-12)
    assert np.isnan(D[10:]).all()  # no direction, no dimensionality
    # a batch of instances: the leading axes are kept
    assert analysis.dimensionality(np.stack([W, W])).shape == (2, W.shape[1])


def test_effective_features_scale():
    base = train.baseline_loss(np.array([1.0, 0.1]), 10, "mean")
    np.testing.assert_allclose(base, [1 / 3 - 1 / 4, 0.1 / 3 - 0.01 / 4])
    assert analysis.effective_features(base, base, 10).tolist() == [0.0, 0.0]
    assert analysis.effective_features(0.5 * base, base, 10).tolist() == [5.0, 5.0]
    # the untrained model (output 0) loses E[x^2] = p/3 > Var x: below zero
    assert (analysis.effective_features(np.array([1 / 3, 0.1 / 3]), base, 10) < 0).all()
    np.testing.assert_allclose(train.baseline_loss(np.array([0.5]), 10, "sum"), 10 * (0.5 / 3 - 0.25 / 4))


def test_jobs_write_tables_with_provenance(run_pipeline, tmp_path):
    from featurelab.io import load_arrays, read_provenance

    section = study_section("geometry", tiny())
    tables = run_pipeline(section)
    assert list(tables["features"].columns) == list(analysis.FEATURE_COLUMNS)
    assert list(tables["instances"].columns) == list(analysis.INSTANCE_COLUMNS)
    assert list(tables["curves"].columns) == list(analysis.CURVE_COLUMNS)
    assert len(tables["features"]) == 2 * 3 * 40 and len(tables["instances"]) == 2 * 3
    inst = tables["instances"]
    np.testing.assert_allclose(inst["dims_per_feature"], inst["n_hidden"] / inst["frobenius_sq"])
    prov = read_provenance(tmp_path / "seed0" / "losses.parquet")
    assert prov["config"]["seed"] == 0 and prov["config"]["model"] == section["model"]
    assert read_provenance(tmp_path / "instances.parquet")["config"]["runs"]["training"] == section["training"]
    arrays = load_arrays(tmp_path / "seed0" / "weights.npz")
    assert set(arrays) == {"W", "b", "feature_probability", "sparsity", "baseline_loss", "seed"}
    # the figure code draws both figures from these tables (smoke test; the e2e test saves them)
    from featurelab.studies.geometry import figures

    params = {"analysis": section["analysis"], "claims": section["claims"]}
    for name in figures.FIGURES:
        fig = figures.draw(name, {t: tables[t] for t in figures.FIGURES[name].tables}, params)
        assert fig.axes
    with pytest.raises(ValueError, match="unknown geometry figure"):
        figures.draw("nope", tables, params)
