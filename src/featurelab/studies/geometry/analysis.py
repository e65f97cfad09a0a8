"""Feature dimensionality per feature and instance, and the tables the claims and figures read (NumPy/pandas).

For one instance with W of shape (m, n) and W_i its i-th column (feature i's direction and size):

* D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2, the fraction of a dimension feature i gets (Elhage et al. 2022).
  The j = i term of the sum is ||W_i||^2 itself, so 0 < D_i <= 1, with 1 exactly when W_i is orthogonal to
  every other feature; k features spread as a regular polytope over d dimensions, orthogonal to the rest,
  each get d/k. A feature with W_i = 0 has no direction: its D_i is NaN (it counts nowhere).
* dimensions per feature = m / ||W||_F^2: ||W||_F^2 = sum_i ||W_i||^2 counts represented features (each ~1).

D_i of a barely represented feature is the ratio of two small numbers, so the claims read D_i only for
*represented* features, ||W_i|| > ``analysis.represented_norm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from featurelab.studies.geometry import STUDY

#: Columns of ``features.parquet``: one row per (seed, instance, feature).
FEATURE_COLUMNS = (
    "study",
    "seed",
    "instance",
    "sparsity",
    "inverse_density",
    "feature",
    "norm",
    "dimensionality",
    "represented",
)
#: Columns of ``instances.parquet``: one row per (seed, instance).
INSTANCE_COLUMNS = (
    "study",
    "seed",
    "instance",
    "sparsity",
    "inverse_density",
    "n_features",
    "n_hidden",
    "frobenius_sq",
    "dims_per_feature",
    "n_represented",
    "loss_initial",
    "loss_final",
    "loss_baseline",
    "effective_features",
)
#: Columns of ``curves.parquet``: every seed's loss curve with the instance's baseline beside it.
CURVE_COLUMNS = ("study", "seed", "instance", "sparsity", "inverse_density", "step", "loss", "loss_baseline")


def dimensionality(W: np.ndarray) -> np.ndarray:
    """D_i for W of shape (..., m, n): (..., n); NaN where W_i = 0. Computed in float64."""
    W = np.asarray(W, dtype=np.float64)
    norms_sq = np.einsum("...mi,...mi->...i", W, W)
    norms = np.sqrt(norms_sq)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = W / norms[..., None, :]  # columns W_i / ||W_i|| (NaN if 0)
        overlaps = np.einsum("...mi,...mj->...ij", unit, W)  # (W_i_hat . W_j)
        return norms_sq / np.square(overlaps).sum(axis=-1)


def dims_per_feature(W: np.ndarray) -> np.ndarray:
    """m / ||W||_F^2 for W of shape (..., m, n): (...,)."""
    W = np.asarray(W, dtype=np.float64)
    return W.shape[-2] / np.square(W).sum(axis=(-2, -1))


def effective_features(loss: np.ndarray, baseline: np.ndarray, n_features: int) -> np.ndarray:
    """How many features' worth of variance the model explains: n (1 - loss / baseline).

    The best input-ignoring model scores 0, a model giving m features a dimension each and ignoring the
    rest (the best a model without superposition can do) scores m, an untrained one (W ~ 0, b = 0: loss
    E[x^2] > Var x) below 0. Superposition scores above m on sparse inputs.
    """
    return n_features * (1.0 - np.asarray(loss, dtype=np.float64) / np.asarray(baseline, dtype=np.float64))


def run_tables(
    arrays: Mapping[str, np.ndarray], losses: Any, seed: int, represented_norm: float
) -> tuple[dict[str, list], dict[str, list]]:
    """The feature rows and instance rows of one seed's run (arrays from its npz, its loss table)."""
    W = np.asarray(arrays["W"])
    n_inst, m, n = W.shape
    sparsity = np.asarray(arrays["sparsity"], dtype=np.float64)
    inverse = 1.0 / np.asarray(arrays["feature_probability"], dtype=np.float64)
    D = dimensionality(W)
    norms = np.sqrt(np.square(W.astype(np.float64)).sum(axis=1))
    represented = norms > float(represented_norm)
    feats = {
        "study": [STUDY] * (n_inst * n),
        "seed": [seed] * (n_inst * n),
        "instance": np.repeat(np.arange(n_inst), n),
        "sparsity": np.repeat(sparsity, n),
        "inverse_density": np.repeat(inverse, n),
        "feature": np.tile(np.arange(n), n_inst),
        "norm": norms.ravel(),
        "dimensionality": D.ravel(),
        "represented": represented.ravel(),
    }
    curve = losses[losses["metric"] == "loss"]
    first = curve[curve["step"] == curve["step"].min()].set_index("instance")["value"]
    last = curve[curve["step"] == curve["step"].max()].set_index("instance")["value"]
    idx = np.arange(n_inst)
    initial, final = first.reindex(idx).to_numpy(), last.reindex(idx).to_numpy()
    baseline = np.asarray(arrays["baseline_loss"], dtype=np.float64)
    frob = np.square(W.astype(np.float64)).sum(axis=(1, 2))
    insts = {
        "study": [STUDY] * n_inst,
        "seed": [seed] * n_inst,
        "instance": idx,
        "sparsity": sparsity,
        "inverse_density": inverse,
        "n_features": [n] * n_inst,
        "n_hidden": [m] * n_inst,
        "frobenius_sq": frob,
        "dims_per_feature": m / frob,
        "n_represented": represented.sum(axis=1),
        "loss_initial": initial,
        "loss_final": final,
        "loss_baseline": baseline,
        "effective_features": effective_features(final, baseline, n),
    }
    return feats, insts


def aggregate_job(smk: Any) -> None:
    """Rule geometry_aggregate: every seed's run -> features, instances and curves tables."""
    import pandas as pd

    from featurelab.io import load_arrays, read_frame, read_provenance, write_table
    from featurelab.provenance import provenance

    represented_norm = float(smk.params.analysis["represented_norm"])
    feats, insts, curves = [], [], []
    for weights, losses_path in zip(smk.input.weights, smk.input.losses):
        arrays = load_arrays(weights)
        losses = read_frame(losses_path)
        seed = int(np.asarray(arrays["seed"]))
        f, i = run_tables(arrays, losses, seed, represented_norm)
        feats.append(pd.DataFrame(f, columns=list(FEATURE_COLUMNS)))
        inst = pd.DataFrame(i, columns=list(INSTANCE_COLUMNS))
        insts.append(inst)
        curve = losses[losses["metric"] == "loss"].rename(columns={"value": "loss"})
        curve = curve.merge(inst[["instance", "loss_baseline"]], on="instance", how="left")
        curves.append(curve[list(CURVE_COLUMNS)])
    record = provenance(
        {"analysis": dict(smk.params.analysis), "runs": read_provenance(smk.input.losses[0]).get("config")},
        rule=smk.rule,
    )
    order = ["seed", "instance"]
    write_table(
        pd.concat(feats, ignore_index=True).sort_values([*order, "feature"], kind="stable"), smk.output.features, record
    )
    write_table(pd.concat(insts, ignore_index=True).sort_values(order, kind="stable"), smk.output.instances, record)
    write_table(
        pd.concat(curves, ignore_index=True).sort_values([*order, "step"], kind="stable"), smk.output.curves, record
    )


def band_length(u: np.ndarray, log_y: np.ndarray, low: float, high: float) -> float:
    """How long (in u) a curve stays in the band low <= ln y <= high, with ln y linear in u between its
    samples (u increasing). Two samples give a steady power-law fall; many give the measured curve."""
    u, log_y = np.asarray(u, dtype=np.float64), np.asarray(log_y, dtype=np.float64)
    total = 0.0
    for u0, u1, a, b in zip(u[:-1], u[1:], log_y[:-1], log_y[1:]):
        if a == b:
            total += (u1 - u0) * float(low <= a <= high)
            continue
        t0, t1 = sorted(((low - a) / (b - a), (high - a) / (b - a)))
        total += (u1 - u0) * max(0.0, min(t1, 1.0) - max(t0, 0.0))
    return total


def plateau_ratio(inverse_density: np.ndarray, dims: np.ndarray, value: float, tolerance: float) -> float:
    """How much longer the curve of m/||W||_F^2 against ln 1/(1-S) stays within ``tolerance`` (relative)
    of ``value`` than a steady fall through the same two end points would (a power law, the straight line
    of the log-log plot). 1 for a curve with no plateau there, larger for a sticky value; NaN when the
    steady fall never enters the band (nothing to compare with)."""
    order = np.argsort(inverse_density)
    u, log_y = np.log(np.asarray(inverse_density)[order]), np.log(np.asarray(dims)[order])
    low, high = np.log(value * (1 - tolerance)), np.log(value * (1 + tolerance))
    steady = band_length(u[[0, -1]], log_y[[0, -1]], low, high)
    return band_length(u, log_y, low, high) / steady if steady > 0 else float("nan")


def local_span(value: float, window: float, others: list[float], tolerance: float) -> float:
    """Length of D's local range around ``value``: [value - window, value + window] within (0, 1], less the
    +-tolerance windows of the ``others`` fractions (their features pile up at another line)."""
    lo, hi = max(value - window, 0.0), min(value + window, 1.0)
    removed = sum(max(0.0, min(hi, f + tolerance) - max(lo, f - tolerance)) for f in others if f != value)
    return hi - lo - removed


def local_pool(features: Any, value: float, window: float, others: list[float], tolerance: float) -> Any:
    """The represented features whose D_i lies in the local range around ``value`` (|D_i - value| <=
    ``window``), less those within ``tolerance`` of another fraction: the features at ``value`` and the
    smooth spread around it that a pile-up is compared with."""
    pool = features[features["represented"] & ((features["dimensionality"] - value).abs() <= window)]
    for other in others:
        if other != value:
            pool = pool[(pool["dimensionality"] - other).abs() > tolerance]
    return pool
