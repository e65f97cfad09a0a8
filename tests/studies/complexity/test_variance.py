"""Closed-form variance explained against scikit-learn (featurelab.studies.complexity.variance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

from featurelab.studies.complexity.variance import total_variance, variance_explained


def sklearn_reference(fit_labels, fit_reps, test_labels, test_reps):
    weighted, unweighted = [], []
    for f in range(fit_labels.shape[1]):
        reg = LinearRegression().fit(fit_labels[:, [f]], fit_reps)
        pred = reg.predict(test_labels[:, [f]])
        weighted.append(r2_score(test_reps, pred, multioutput="variance_weighted"))
        unweighted.append(reg.score(test_labels[:, [f]], test_reps))  # the notebook's .score
    return np.array(weighted), np.array(unweighted)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_r2_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n_fit, n_test, n_units = 300, 200, 12
    fit_labels = rng.integers(0, 2, (n_fit, 3)).astype(float)
    test_labels = rng.integers(0, 2, (n_test, 3)).astype(float)
    mix = rng.normal(size=(3, n_units)) * rng.uniform(0.1, 3, n_units)
    fit_reps = fit_labels @ mix + rng.normal(size=(n_fit, n_units))
    test_reps = test_labels @ mix + rng.normal(size=(n_test, n_units))
    test_reps[:, 0] = 0.5  # a dead (constant) unit, as leaky-ReLU layers have
    fit_reps[:, 0] = 0.5
    ours = variance_explained(*(torch.tensor(a) for a in (fit_labels, fit_reps, test_labels, test_reps)))
    ref = sklearn_reference(fit_labels, fit_reps, test_labels, test_reps)
    np.testing.assert_allclose(ours[0].numpy(), ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[1].numpy(), ref[1], rtol=1e-9, atol=1e-12)


def test_weighted_and_unweighted_differ_when_unit_variances_differ():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, (500, 1)).astype(float)
    # unit 0: large variance, fully explained; unit 1: small variance, pure noise
    reps = np.c_[10 * labels[:, 0], 0.1 * rng.normal(size=500)]
    w, u = variance_explained(*(torch.tensor(a) for a in (labels, reps, labels, reps)))
    assert w.item() > 0.99 and u.item() == pytest.approx(0.5, abs=0.02)


def test_constant_label_explains_nothing():
    labels = np.ones((100, 1))
    reps = np.random.default_rng(4).normal(size=(100, 5))
    ours = variance_explained(*(torch.tensor(a) for a in (labels, reps, labels, reps)))
    ref = sklearn_reference(labels, reps, labels, reps)
    np.testing.assert_allclose([ours[0].item(), ours[1].item()], [ref[0][0], ref[1][0]], atol=1e-12)


def test_total_variance_is_sum_of_population_variances():
    reps = np.random.default_rng(5).normal(size=(64, 7))
    assert total_variance(torch.tensor(reps)).item() == pytest.approx(np.var(reps, axis=0).sum())
