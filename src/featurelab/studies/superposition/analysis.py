"""Superposition geometry of a 49 -> 2 -> 49 autoencoder (Elhage et al. 2022, notebook 001).

All functions take one instance's parameters as NumPy arrays: ``w_enc`` (m, n) with columns W_i (the
direction of hidden unit i in the m = 2-D code), ``b_enc`` (m,), ``w_dec`` (n, m), ``b_dec`` (n,), and
hidden activations ``h`` (N, n): n = features (the classifier's 49 hidden units), m = code dimensions,
N = examples, B = the examples of one chunk. The model is code = tanh(W_enc h + b_enc),
reconstruction = ReLU(tanh(W_dec code + b_dec)), loss = mean squared error over examples and units.

Every per-feature quantity is computed for all n features at once (a (chunk, n, ...) array), never
with a Python loop over features and the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from featurelab.stats import spearman, summarize_over_seeds
from featurelab.studies.superposition import STUDY

if TYPE_CHECKING:
    import pandas as pd

#: Examples per chunk of the (N, n, n) perturbed-reconstruction tensor: small enough that the chunk
#: (64 * 49 * 49 doubles = 1.2 MB) stays in cache; larger chunks are memory-bound and slower.
CHUNK = 64


def relu_tanh_numpy(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """:func:`~featurelab.studies.superposition.model.relu_tanh` of one instance in NumPy: ``x`` (..., n_in),
    ``weight`` (n_out, n_in), ``bias`` (n_out,) -> (..., n_out)."""
    return np.maximum(np.tanh(x @ weight.T + bias), 0.0)


def reconstruct(h: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """The autoencoder's output for inputs ``h`` (..., n): (..., n)."""
    code = np.tanh(h @ p["w_enc"].T + p["b_enc"])
    return relu_tanh_numpy(code, p["w_dec"], p["b_dec"])


def reconstruction_loss(h: np.ndarray, p: Mapping[str, np.ndarray]) -> float:
    """Mean squared error of the reconstruction of ``h`` (N, n) over examples and units (``nn.MSELoss()``)."""
    return float(np.mean((reconstruct(h, p) - h) ** 2))


def importance(h: np.ndarray, p: Mapping[str, np.ndarray], chunk: int = CHUNK) -> np.ndarray:
    """Raw importance of each hidden unit: the increase of the reconstruction loss (against the *intact*
    target h) when unit i is set to zero in the input, as in the notebook. Shape (n,).

    Vectorised: the pre-activation with unit i zeroed is z - W_i h_i, so the n perturbed codes of a
    chunk form one (chunk, n, m) array and the n reconstructions one (chunk, n, n) array.
    """
    n_examples, n = h.shape
    w_enc, b_enc, w_dec, b_dec = (np.asarray(p[k], dtype=np.float64) for k in ("w_enc", "b_enc", "w_dec", "b_dec"))
    total = np.zeros(n)
    base = 0.0
    for start in range(0, n_examples, chunk):
        x = np.asarray(h[start : start + chunk], dtype=np.float64)
        b = x.shape[0]
        z = x @ w_enc.T + b_enc  # (B, m)
        z_minus = z[:, None, :] - x[:, :, None] * w_enc.T[None]  # (B, n, m): unit i removed
        # one 2-D BLAS product for all n perturbations (a stacked 3-D matmul is far slower in NumPy)
        pre = np.tanh(z_minus.reshape(b * n, -1)) @ w_dec.T  # (B*n, n)
        pre += b_dec
        np.tanh(pre, out=pre)
        np.maximum(pre, 0.0, out=pre)
        pre = pre.reshape(b, n, n)
        pre -= x[:, None, :]
        total += np.einsum("bij,bij->i", pre, pre)
        base += float(((relu_tanh_numpy(np.tanh(z), w_dec, b_dec) - x) ** 2).sum())
    return (total - base) / (n_examples * n)


def importance_share(raw: np.ndarray) -> np.ndarray:
    """Importance ``raw`` (n,) divided by its sum, (n,) (the notebook's first normalisation); 0 when the
    sum is 0."""
    s = raw.sum()
    return raw / s if s != 0 else np.zeros_like(raw)


def minmax(x: np.ndarray) -> np.ndarray:
    """``x`` (any shape, e.g. (n,)) rescaled to [0, 1], same shape (the notebook's second normalisation,
    used to scale the arrows); 0 when ``x`` is constant."""
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def feature_directions(
    h: np.ndarray, p: Mapping[str, np.ndarray], center: bool = False, chunk: int = CHUNK
) -> np.ndarray:
    """Each feature's 2-D direction: the code of an input in which only unit i is kept, averaged over
    the data (the notebook's definition). Shape (n, m).

    With ``center=True`` the code of the all-zero input, tanh(b_enc), is subtracted, so that a unit
    that is never active (or is ignored by the encoder) sits at the origin instead of at the bias
    point; to first order the centred direction is tanh'(b_enc) * W_i * mean(h_i), i.e. along W_i.
    """
    n_examples, n = h.shape
    w_enc, b_enc = np.asarray(p["w_enc"], dtype=np.float64), np.asarray(p["b_enc"], dtype=np.float64)
    acc = np.zeros((n, w_enc.shape[0]))
    for start in range(0, n_examples, chunk):
        x = np.asarray(h[start : start + chunk], dtype=np.float64)
        acc += np.tanh(x[:, :, None] * w_enc.T[None] + b_enc).sum(axis=0)  # (B, n, m) summed over B
    directions = acc / n_examples
    return directions - np.tanh(b_enc) if center else directions


def weight_norms(w_enc: np.ndarray) -> np.ndarray:
    """||W_i||: the length of each encoder column. Shape (n,)."""
    return np.linalg.norm(w_enc, axis=0)


def unit_columns(w_enc: np.ndarray) -> np.ndarray:
    """Ŵ_i = W_i / ||W_i|| (a zero column stays zero). Shape (m, n)."""
    norms = weight_norms(w_enc)
    return np.divide(w_enc, norms, out=np.zeros_like(w_enc, dtype=np.float64), where=norms > 0)


def interference(w_enc: np.ndarray) -> np.ndarray:
    """TMS interference Σ_{j≠i} (Ŵ_i · W_j)²: how much of the other features lies along feature i's
    direction, with feature i's own length divided out. Shape (n,)."""
    dots = unit_columns(w_enc).T @ w_enc  # (n, n): [i, j] = Ŵ_i · W_j
    np.fill_diagonal(dots, 0.0)
    return (dots**2).sum(axis=1)


def interference_cosine(w_enc: np.ndarray) -> np.ndarray:
    """Σ_{j≠i} cos²(W_i, W_j): interference with both directions normalised (pure geometry). Shape (n,)."""
    u = unit_columns(w_enc)
    cos = u.T @ u
    np.fill_diagonal(cos, 0.0)
    return (cos**2).sum(axis=1)


def interference_unnormalized(w_enc: np.ndarray) -> np.ndarray:
    """The notebook's "cos sim" Σ_{j≠i} (W_i · W_j)², with neither vector normalised. It scales like
    ||W_i||² · ||W_j||², and encoder weights are initialised at |w| <= 1/sqrt(49) ≈ 0.14 and move
    little at Adam 1e-4, so it is near zero for that trivial reason, not because features are
    orthogonal (in 2-D, 49 directions cannot be). Shape (n,)."""
    dots = w_enc.T @ w_enc
    np.fill_diagonal(dots, 0.0)
    return (dots**2).sum(axis=1)


def feature_dimensionality(w_enc: np.ndarray) -> np.ndarray:
    """D_i = ||W_i||² / Σ_j (Ŵ_i · W_j)² (j = i included), the TMS paper's fraction of a dimension
    feature i gets: 1 for a feature alone on its axis, 1/2 for an antipodal pair, 0 for an absent one.
    Shape (n,)."""
    norms2 = weight_norms(w_enc) ** 2
    denom = ((unit_columns(w_enc).T @ w_enc) ** 2).sum(axis=1)
    return np.divide(norms2, denom, out=np.zeros_like(norms2), where=denom > 0)


def wdec_wenc(p: Mapping[str, np.ndarray]) -> np.ndarray:
    """W_dec W_enc, (n, n) (the TMS paper's W^T W when tied). [i, j]: how input unit j is written onto
    output unit i through the 2-D code."""
    return np.asarray(p["w_dec"], dtype=np.float64) @ np.asarray(p["w_enc"], dtype=np.float64)


def importance_order(raw_importance: np.ndarray) -> np.ndarray:
    """Feature indices (n,) from most to least important for ``raw_importance`` (n,) (ties broken by
    index: stable and deterministic). Every per-feature array of a figure is indexed with this *same*
    order (the notebook reversed the bias array a second time, ``b2[sorted][::-1]``, and read a trend off
    the mismatch)."""
    return np.argsort(-np.asarray(raw_importance), kind="stable")


def features_for_mass(share: np.ndarray, mass: float) -> int:
    """How many of the most important features carry at least ``mass`` of the total positive
    importance (negative importances, i.e. units whose removal helps, count as zero)."""
    pos = np.clip(np.asarray(share, dtype=np.float64), 0.0, None)
    if pos.sum() <= 0:
        return 0
    cum = np.cumsum(np.sort(pos)[::-1]) / pos.sum()
    return int(np.searchsorted(cum, mass - 1e-12) + 1)


def participation_ratio(share: np.ndarray) -> float:
    """Effective number of important features (Σp)² / Σp² of the positive importances."""
    pos = np.clip(np.asarray(share, dtype=np.float64), 0.0, None)
    s2 = (pos**2).sum()
    return float(pos.sum() ** 2 / s2) if s2 > 0 else 0.0


# --------------------------------------------------------------------------------------------------------
# One run's analysis tables (pure NumPy; written with pyarrow by the script)

#: Long-format per-feature table: one row per (seed, recorded epoch, feature, metric). Run-level metrics
#: of an epoch (loss on the analysis set, how many features carry the importance, rank correlation) use
#: feature = importance_rank = -1.
FEATURE_COLUMNS = ("study", "seed", "epoch", "feature", "importance_rank", "metric", "value")
#: W_dec W_enc of the last recorded epoch, rows and columns in importance order.
WTW_COLUMNS = ("study", "seed", "epoch", "row_rank", "col_rank", "row_feature", "col_feature", "value")

PER_FEATURE_METRICS = (
    "importance",
    "importance_share",
    "importance_norm",
    "direction_x",
    "direction_y",
    "direction_centered_x",
    "direction_centered_y",
    "w_norm",
    "b_dec",
    "interference",
    "interference_cosine",
    "interference_unnormalized",
    "dimensionality",
)


def analyze_epoch(h: np.ndarray, p: Mapping[str, np.ndarray], importance_mass: float) -> tuple[dict, dict]:
    """Every per-feature quantity (n,) and the run-level numbers of one set of parameters."""
    raw = importance(h, p)
    share = importance_share(raw)
    dirs = feature_directions(h, p)
    centered = dirs - np.tanh(np.asarray(p["b_enc"], dtype=np.float64))
    w = np.asarray(p["w_enc"], dtype=np.float64)
    per_feature = {
        "importance": raw,
        "importance_share": share,
        "importance_norm": minmax(raw),
        "direction_x": dirs[:, 0],
        "direction_y": dirs[:, 1],
        "direction_centered_x": centered[:, 0],
        "direction_centered_y": centered[:, 1],
        "w_norm": weight_norms(w),
        "b_dec": np.asarray(p["b_dec"], dtype=np.float64),
        "interference": interference(w),
        "interference_cosine": interference_cosine(w),
        "interference_unnormalized": interference_unnormalized(w),
        "dimensionality": feature_dimensionality(w),
    }
    run_level = {
        "reconstruction_loss": reconstruction_loss(h, p),
        "features_for_mass": float(features_for_mass(share, importance_mass)),
        "importance_participation_ratio": participation_ratio(share),
        "spearman_importance_w_norm": spearman(raw, per_feature["w_norm"]),
        "dimensionality_sum": float(per_feature["dimensionality"].sum()),
    }
    return per_feature, run_level


def analyze_run(
    study: str, seed: int, h: np.ndarray, snapshots: Mapping[str, np.ndarray], instance: int, importance_mass: float
) -> tuple[dict[str, list], dict[str, list]]:
    """Feature and W_dec W_enc tables (column dicts) of one instance of recorded autoencoder snapshots.

    ``h`` (N, n) are the activations the quantities are measured on; ``snapshots`` is
    :func:`~featurelab.studies.superposition.train.train_autoencoder`'s: ``epochs`` (E,), ``w_enc``
    (I, E, m, n), ``b_enc`` (I, E, m), ``w_dec`` (I, E, n, m), ``b_dec`` (I, E, n); ``instance`` picks I.
    The W_dec W_enc table is of the last recorded epoch only, rows and columns in importance order.
    """
    feats: dict[str, list] = {c: [] for c in FEATURE_COLUMNS}
    wtw: dict[str, list] = {c: [] for c in WTW_COLUMNS}

    def add(epoch, feature, rank, metric, value):
        feats["study"].append(study)
        feats["seed"].append(int(seed))
        feats["epoch"].append(int(epoch))
        feats["feature"].append(int(feature))
        feats["importance_rank"].append(int(rank))
        feats["metric"].append(metric)
        feats["value"].append(float(value))

    epochs = [int(e) for e in snapshots["epochs"]]
    for k, epoch in enumerate(epochs):
        p = {key: snapshots[key][instance, k] for key in ("w_enc", "b_enc", "w_dec", "b_dec")}
        per_feature, run_level = analyze_epoch(h, p, importance_mass)
        order = importance_order(per_feature["importance"])
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        for metric in PER_FEATURE_METRICS:
            for i, v in enumerate(per_feature[metric]):
                add(epoch, i, rank[i], metric, v)
        for metric, v in run_level.items():
            add(epoch, -1, -1, metric, v)
        if k == len(epochs) - 1:
            m = wdec_wenc(p)[np.ix_(order, order)]  # rows and columns in the same importance order
            n = len(order)
            wtw["study"] += [study] * n * n
            wtw["seed"] += [int(seed)] * n * n
            wtw["epoch"] += [epoch] * n * n
            wtw["row_rank"] += np.repeat(np.arange(n), n).tolist()
            wtw["col_rank"] += np.tile(np.arange(n), n).tolist()
            wtw["row_feature"] += np.repeat(order, n).tolist()
            wtw["col_feature"] += np.tile(order, n).tolist()
            wtw["value"] += m.ravel().tolist()
    return feats, wtw


# --------------------------------------------------------------------------------------------------------
# Aggregation over seeds (pandas, imported where it is used: the per-run analysis above needs only NumPy)

#: summary.parquet: training curves (kind 'training') and per-importance-rank features at every recorded
#: epoch (kind 'by_rank'); unused keys are '' / -1.
SUMMARY_COLUMNS = (
    "kind",
    "phase",
    "split",
    "epoch",
    "importance_rank",
    "metric",
    "mean",
    "sd",
    "n",
    "ci_low",
    "ci_high",
)
WTW_SUMMARY_COLUMNS = ("epoch", "row_rank", "col_rank", "mean", "sd", "n", "ci_low", "ci_high")


def summarize(training: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% CI over seeds of the training curves and of each feature metric by importance rank."""
    import pandas as pd

    curves = summarize_over_seeds(training, ["phase", "split", "epoch", "metric"])
    curves["kind"], curves["importance_rank"] = "training", -1
    ranks = summarize_over_seeds(features, ["epoch", "importance_rank", "metric"])
    ranks["kind"], ranks["phase"], ranks["split"] = "by_rank", "autoencoder", "analysis"
    out = pd.concat([curves, ranks], ignore_index=True)
    out["importance_rank"] = out["importance_rank"].astype("int64")
    out["epoch"] = out["epoch"].astype("int64")
    return out[list(SUMMARY_COLUMNS)]


def summarize_wtw(wtw: pd.DataFrame) -> pd.DataFrame:
    """W_dec W_enc averaged over seeds cell by cell in importance-rank coordinates."""
    return summarize_over_seeds(wtw, ["epoch", "row_rank", "col_rank"])[list(WTW_SUMMARY_COLUMNS)]


def analyze_job(smk: Any) -> None:
    """Importance, 2-D directions, ||W_i||, bias, interference, dimensionality and
    W_dec W_enc of one seed at every recorded autoencoder epoch (NumPy + pyarrow only).

    The job of rule ``superposition_analyze``.
    """
    from featurelab.io import load_arrays, read_provenance, table_from_columns, write_table
    from featurelab.provenance import provenance
    from featurelab.seeding import numpy_rng

    cfg = smk.params.analysis
    seed = int(smk.wildcards.seed)
    h = load_arrays(smk.input.hidden)[f"h_{cfg['split']}"]
    if cfg["max_examples"] and cfg["max_examples"] < h.shape[0]:  # the same images for every seed
        h = h[np.sort(numpy_rng(STUDY, "analysis", cfg["split"]).permutation(h.shape[0])[: cfg["max_examples"]])]
    snaps = load_arrays(smk.input.snapshots)
    # the script stores one instance: add the instance axis back for analyze_run
    snaps = {k: (v if k == "epochs" else v[None]) for k, v in snaps.items()}
    feats, wtw = analyze_run(STUDY, seed, h, snaps, 0, float(cfg["importance_mass"]))
    upstream = read_provenance(smk.input.snapshots)
    record = provenance({"analysis": dict(cfg), "seed": seed, "autoencoder": upstream.get("config")}, rule=smk.rule)
    write_table(table_from_columns(feats), smk.output.features, record)
    write_table(table_from_columns(wtw), smk.output.wtw, record)


def aggregate_job(smk: Any) -> None:
    """Every seed's tables in one, and means with 95% CIs over seeds.

    The job of rule ``superposition_aggregate``.
    """
    import pandas as pd

    from featurelab.io import read_frame, read_provenance, write_table
    from featurelab.provenance import provenance

    def cat(paths):
        return pd.concat([read_frame(p) for p in paths], ignore_index=True)

    training = cat([*smk.input.classifier, *smk.input.autoencoder])
    features, wtw = cat(smk.input.features), cat(smk.input.wtw)
    runs = [read_provenance(p) for p in smk.input.features]
    record = provenance(
        runs[0]["config"] | {"seed": None},
        rule=smk.rule,
        runs=[{"seed": r["config"]["seed"], "config_hash": r["config_hash"]} for r in runs],
    )
    write_table(training, smk.output.training, record)
    write_table(features, smk.output.features, record)
    write_table(wtw, smk.output.wtw, record)
    write_table(summarize(training, features), smk.output.summary, record)
    write_table(summarize_wtw(wtw), smk.output.wtw_summary, record)
