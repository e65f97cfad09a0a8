"""How much of a representation's variance a binary feature explains, in closed form.

The reference notebook fits ``sklearn.linear_model.LinearRegression`` from one label to the 64 hidden
units (on a representation-fit split) and scores it on the test split with ``.score``. With a single
regressor the least-squares fit has a closed form (slope = cov(x, y) / var(x)), so all features and
units are fitted at once with a few tensor operations per evaluation, no scikit-learn import.

Two summaries are reported and must not be confused:

* ``r2_weighted`` - 1 - sum_units SS_res / sum_units SS_tot: the fraction of the representation's
  *total* variance explained. This is the paper's quantity (sklearn ``multioutput='variance_weighted'``).
* ``r2_unweighted`` - the plain mean over units of each unit's R^2, which is what the notebook's
  ``.score`` returns (sklearn's default ``'uniform_average'``); low-variance units count as much as
  high-variance ones.

Constant test units follow sklearn's convention (R^2 = 1 if predicted exactly, else 0).
"""

from __future__ import annotations

import torch


def _r2_from_ss(ss_res: torch.Tensor, ss_tot: torch.Tensor) -> torch.Tensor:
    """R^2 = 1 - ss_res/ss_tot with sklearn's ``force_finite`` handling of ss_tot == 0."""
    safe = torch.where(ss_tot > 0, ss_tot, torch.ones_like(ss_tot))
    r2 = 1 - ss_res / safe
    return torch.where(ss_tot > 0, r2, (ss_res == 0).to(r2.dtype))


def variance_explained(
    fit_labels: torch.Tensor, fit_reps: torch.Tensor, test_labels: torch.Tensor, test_reps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature (r2_weighted, r2_unweighted), each of shape (n_features,), computed in float64.

    labels: (n, n_features); reps: (n, n_units). Each feature is its own one-regressor model.
    """
    x, y = fit_labels.double(), fit_reps.double()
    xt, yt = test_labels.double(), test_reps.double()
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc = x - x_mean
    sxx = (xc * xc).sum(0)  # (F,)
    sxy = xc.T @ (y - y_mean)  # (F, H)
    # A constant regressor has no slope; least squares (sklearn's lstsq) then predicts the mean.
    slope = torch.where(
        sxx[:, None] > 0, sxy / torch.where(sxx > 0, sxx, torch.ones_like(sxx))[:, None], torch.zeros_like(sxy)
    )
    intercept = y_mean[None, :] - slope * x_mean[:, None]  # (F, H)
    # Residuals of the affine prediction, expanded without materialising (n, F, H) predictions twice.
    resid = yt[:, None, :] - intercept[None] - xt[:, :, None] * slope[None]  # (n, F, H)
    ss_res = (resid * resid).sum(0)  # (F, H)
    ss_tot = ((yt - yt.mean(0)) ** 2).sum(0)  # (H,)
    weighted = _r2_from_ss(ss_res.sum(1), ss_tot.sum())
    unweighted = _r2_from_ss(ss_res, ss_tot.expand_as(ss_res)).mean(1)
    return weighted, unweighted


def total_variance(reps: torch.Tensor) -> torch.Tensor:
    """Sum over units of the (population, ddof=0) variance: the notebook's ``np.sum(np.var(reps, 0))``."""
    return reps.double().var(0, unbiased=False).sum()
