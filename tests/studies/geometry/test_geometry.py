"""Unit tests of the geometry study: dimensionality of known geometries, the model, AdamW, batched training,
determinism, checkpoints, the claims' preconditions, config checks, and the jobs' imports.

The rules run end to end in test_workflow.py; here the jobs run with a fake ``snakemake`` object
(types.SimpleNamespace).
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from featurelab.studies import geometry
from featurelab.studies.geometry import analysis, claims, train

REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO / "workflow" / "schemas" / "geometry.schema.yaml"


def default_section() -> dict:
    return copy.deepcopy(yaml.safe_load((REPO / "config.yaml").read_text())["geometry"])


def tiny_section() -> dict:
    """The default section with tests/configs/tiny.yaml's geometry values merged over it (as --configfile)."""
    section = default_section()
    for key, value in yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())["geometry"].items():
        if isinstance(value, dict):
            section[key].update(value)
        else:
            section[key] = value
    return section


# ------------------------------------------------------------------------------------ known geometries


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


# ------------------------------------------------------------------------------------------ model, data


def test_inputs_are_sparse_uniform():
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([1.0, 0.2, 0.01])
    x = train.sample_features(p, 20_000, 50, g)
    assert x.shape == (3, 20_000, 50) and x.min() >= 0 and x.max() < 1
    on = (x > 0).float().mean(dim=(1, 2))
    np.testing.assert_allclose(on.numpy(), p.numpy(), rtol=0.03)
    for i in range(3):
        vals = x[i][x[i] > 0]
        assert abs(vals.mean().item() - 0.5) < 0.01 and abs(vals.var().item() - 1 / 12) < 0.003
    assert (x[1:] == 0).float().mean() > 0.5  # exact zeros, not tiny values


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hand_written_backward_equals_autograd(reduction):
    g = torch.Generator().manual_seed(1)
    model = train.SweepModel.initialised(3, 5, 20, "per_instance", g).double()
    with torch.no_grad():
        model.b.normal_(0.0, 0.3, generator=g)
    x = train.sample_features(torch.tensor([1.0, 0.3, 0.05], dtype=torch.float64), 64, 20, g)
    weights = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    fast = model.loss(x, reduction)
    (fast * weights).sum().backward()
    grads = model.W.grad.clone(), model.b.grad.clone()
    model.W.grad = model.b.grad = None
    ref = model.loss_autograd(x, reduction)
    (ref * weights).sum().backward()
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads[0], model.W.grad, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(grads[1], model.b.grad, rtol=1e-10, atol=1e-13)
    assert torch.autograd.gradcheck(
        lambda W, b: train._SweepLoss.apply(W, b, x, 1.0 / 64),
        (model.W.detach().clone().requires_grad_(), model.b.detach().clone().requires_grad_()),
    )


def test_colab_init_scale():
    # nn.init.xavier_normal_ on an (I, n, m) tensor: fan_in = n m, fan_out = I m
    t = torch.empty(8, 400, 30)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
    assert train.init_std("colab", 30, 400, 8) == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)))
    assert train.init_std("per_instance", 30, 400, 8) == pytest.approx(math.sqrt(2.0 / 430))
    with pytest.raises(ValueError, match="geometry.model.init"):
        train.init_std("xavier", 30, 400, 8)


def test_adamw_is_torch_adamw_bit_for_bit():
    g = torch.Generator().manual_seed(2)
    a = [torch.randn(4, 7, generator=g, requires_grad=True), torch.randn(7, generator=g, requires_grad=True)]
    b = [t.detach().clone().requires_grad_() for t in a]
    ours = train.AdamW(a, lr=3e-3, weight_decay=0.05)
    ref = torch.optim.AdamW(b, lr=3e-3, weight_decay=0.05, foreach=False)
    for step in range(6):
        grads = [torch.randn(t.shape, generator=g) for t in a]
        for t, gr in zip(a, grads):
            t.grad = gr.clone()
        for t, gr in zip(b, grads):
            t.grad = gr.clone()
        if step == 3:
            ours.lr = 1e-3
            for group in ref.param_groups:
                group["lr"] = 1e-3
        ours.step()
        ref.step()
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def small_training(steps: int = 30) -> dict:
    return {
        "steps": steps,
        "batch_size": 32,
        "learning_rate": 0.01,
        "lr_schedule": "constant",
        "weight_decay": 0.01,
        "feature_reduction": "mean",
        "log_every": 10,
    }


def test_batched_training_equals_one_instance_training():
    """An instance of the batched sweep trains exactly as the same model trained alone on its data."""
    g = torch.Generator().manual_seed(3)
    W0 = train.SweepModel.initialised(3, 4, 12, "per_instance", g).W.detach()
    p = torch.tensor([1.0, 0.3, 0.05])
    data = [train.sample_features(p, 32, 12, g) for _ in range(30)]
    batched, single = train.SweepModel(W0), train.SweepModel(W0[1:2])
    train.fit(batched, train.AdamW(batched.parameters(), lr=0.01), lambda s: data[s], small_training(), seed=0)
    train.fit(single, train.AdamW(single.parameters(), lr=0.01), lambda s: data[s][1:2], small_training(), seed=0)
    torch.testing.assert_close(batched.W[1:2], single.W, rtol=2e-6, atol=1e-7)
    torch.testing.assert_close(batched.b[1:2], single.b, rtol=2e-6, atol=1e-7)
    assert not torch.allclose(batched.W[1], W0[1])  # it did train


def tiny_run(section: dict, seed: int = 0, **kwargs):
    return train.train_sweep(
        seed, section["model"], section["sweep"], section["training"], section["evaluation"], "cpu", **kwargs
    )


def test_training_is_deterministic_and_seeds_differ():
    section = tiny_section()
    cols1, arr1 = tiny_run(section)
    cols2, arr2 = tiny_run(section)
    assert cols1 == cols2
    for key in arr1:
        assert np.array_equal(arr1[key], arr2[key]), key
    _, other = tiny_run(section, seed=1)
    assert not np.array_equal(arr1["W"], other["W"])
    assert arr1["W"].shape == (3, 6, 40) and arr1["b"].shape == (3, 40)
    steps = sorted(set(cols1["step"]))
    assert steps == [0, 100, 200]


def test_checkpoint_resume_is_bit_identical(tmp_path, monkeypatch):
    section = tiny_section()
    section["training"]["steps"] = 120
    section["training"]["log_every"] = 40
    ckpt = tmp_path / "weights.npz.ckpt"
    reference = tiny_run(section)
    real = train.sample_features
    calls = {"n": 0}

    def dies_after_80_steps(p, batch, n, generator):
        if batch == section["training"]["batch_size"] and generator is not None:
            calls["n"] += 1
            if calls["n"] > 80 + 4 * 3:  # 80 training draws, 4 evaluation chunks at steps 0, 40, 80
                raise KeyboardInterrupt("killed")
        return real(p, batch, n, generator)

    monkeypatch.setattr(train, "sample_features", dies_after_80_steps)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(section, checkpoint_to=str(ckpt), checkpoint_every=40)
    assert ckpt.exists()
    monkeypatch.setattr(train, "sample_features", real)
    resumed = tiny_run(section, checkpoint_to=str(ckpt), checkpoint_every=40)
    assert not ckpt.exists()  # removed once training finished
    assert resumed[0] == reference[0]
    for key in reference[1]:
        assert np.array_equal(resumed[1][key], reference[1][key]), key


# --------------------------------------------------------------------------------- jobs with a fake smk


def fake_smk(rule: str, section: dict, tmp: Path, **fields) -> SimpleNamespace:
    params = SimpleNamespace(
        **{k: section[k] for k in ("model", "sweep", "training", "evaluation", "analysis")}, device="cpu"
    )
    return SimpleNamespace(
        rule=rule,
        threads=1,
        config={"geometry": section},
        params=params,
        log=[],
        wildcards=SimpleNamespace(**fields.pop("wildcards", {})),
        **fields,
    )


def run_pipeline(tmp_path: Path, section: dict, seeds=(0, 1)) -> dict[str, pd.DataFrame]:
    from featurelab.io import read_frame

    for s in seeds:
        out = SimpleNamespace(
            weights=str(tmp_path / f"seed{s}/weights.npz"), losses=str(tmp_path / f"seed{s}/losses.parquet")
        )
        train.train_job(fake_smk("geometry_train", section, tmp_path, wildcards={"seed": str(s)}, output=out))
    inp = SimpleNamespace(
        weights=[str(tmp_path / f"seed{s}/weights.npz") for s in seeds],
        losses=[str(tmp_path / f"seed{s}/losses.parquet") for s in seeds],
    )
    out = SimpleNamespace(**{k: str(tmp_path / f"{k}.parquet") for k in ("features", "instances", "curves")})
    analysis.aggregate_job(fake_smk("geometry_aggregate", section, tmp_path, input=inp, output=out))
    return {k: read_frame(getattr(out, k)) for k in ("features", "instances", "curves")}


def test_jobs_write_tables_with_provenance(tmp_path):
    from featurelab.io import load_arrays, read_provenance

    section = tiny_section()
    tables = run_pipeline(tmp_path, section)
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
        fig = figures.draw(name, {t: tables[t] for t in figures.FIGURE_TABLES[name]}, params)
        assert fig.axes
    with pytest.raises(ValueError, match="unknown geometry figure"):
        figures.draw("nope", tables, params)


def test_training_job_imports_neither_pandas_nor_matplotlib(tmp_path):
    """Importing the training module and training load no pandas/matplotlib (job start-up). Writing the
    parquet does load pandas: pyarrow's ``pa.array`` imports it whenever it is installed (every featurelab
    training job pays this); matplotlib stays out to the end."""
    section = tiny_section()
    section["training"]["steps"] = 5
    section["training"]["log_every"] = 5
    code = f"""
import json, sys
from types import SimpleNamespace
sys.path.insert(0, {str(REPO / "src")!r})
heavy = lambda: sorted(m for m in ("pandas", "matplotlib", "sklearn", "scipy", "seaborn") if m in sys.modules)
from featurelab.studies.geometry import train
print("import", heavy())
section = json.loads({json.dumps(json.dumps(section))})
train.train_sweep(0, section["model"], section["sweep"], section["training"], section["evaluation"], "cpu")
print("train", heavy())
params = SimpleNamespace(**{{k: section[k] for k in ("model", "sweep", "training", "evaluation")}}, device="cpu")
out = SimpleNamespace(weights={str(tmp_path / "w.npz")!r}, losses={str(tmp_path / "l.parquet")!r})
train.train_job(SimpleNamespace(rule="geometry_train", threads=1, config={{"geometry": section}}, params=params,
                                log=[], wildcards=SimpleNamespace(seed="0"), output=out))
print("job", heavy())
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    lines = dict(
        line.split(" ", 1) for line in proc.stdout.strip().splitlines() if line.startswith(("import", "train", "job"))
    )
    assert lines["import"] == "[]" and lines["train"] == "[]", proc.stdout + proc.stderr
    assert lines["job"] == "['pandas']", proc.stdout + proc.stderr
    assert (tmp_path / "w.npz").exists() and (tmp_path / "l.parquet").exists()


def test_the_modules_the_workflow_imports_are_light():
    code = (
        f"import sys\nsys.path.insert(0, {str(REPO / 'src')!r})\n"
        "import featurelab.studies.geometry, featurelab.studies.geometry.figures\n"
        "print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    # numpy is fine (the figures module needs it for its helpers); torch, pandas and matplotlib are not
    assert "torch" not in proc.stdout and "pandas" not in proc.stdout and "matplotlib" not in proc.stdout


# --------------------------------------------------------------------------------------------- claims


def claims_params(section: dict) -> dict:
    return {"claims": section["claims"], "analysis": section["analysis"]}


def synthetic_tables(trained: bool, seeds=(0, 1, 2)) -> dict[str, pd.DataFrame]:
    """A sweep whose features all sit at 1/2 (digons) and whose dims per feature fall; ``trained`` sets the
    effective features above or below the precondition's bar."""
    feats, insts = [], []
    for s in seeds:
        for i, inv in enumerate([1.0, 2.0, 4.0, 8.0]):
            n_rep = 30 * (i + 1)
            feats.append(
                pd.DataFrame(
                    {
                        "seed": s,
                        "instance": i,
                        "inverse_density": inv,
                        "feature": range(400),
                        "norm": [1.0] * n_rep + [0.0] * (400 - n_rep),
                        "dimensionality": [0.5] * n_rep + [np.nan] * (400 - n_rep),
                        "represented": [True] * n_rep + [False] * (400 - n_rep),
                    }
                )
            )
            insts.append(
                {
                    "seed": s,
                    "instance": i,
                    "inverse_density": inv,
                    "n_features": 400,
                    "n_hidden": 30,
                    "dims_per_feature": 30 / (30 * (i + 1)),
                    "effective_features": 40.0 if trained else -50.0,
                }
            )
    return {"features": pd.concat(feats, ignore_index=True), "instances": pd.DataFrame(insts)}


def test_claims_pass_on_a_trained_sweep_and_name_what_is_missing():
    section = default_section()
    table = claims.evaluate(synthetic_tables(trained=True), claims_params(section))
    verdict = dict(zip(table["claim"], table["passed"]))
    assert verdict["sticky_1_2"] and verdict["dims_per_feature_fall"]
    assert not verdict["sticky_2_5"] and not verdict["sticky_1"]
    row = table.set_index("claim").loc["sticky_2_5"]
    assert row["precondition_met"] and "share >= 0.1 in 0 of 3 seeds" in row["reason"]
    assert table.set_index("claim").loc["dims_per_feature_fall", "measured"] == pytest.approx(-1.0)
    assert table["condition"].str.contains("digon").any()


def test_claims_cannot_pass_on_an_untrained_model():
    section = default_section()
    table = claims.evaluate(synthetic_tables(trained=False), claims_params(section))
    assert not table["passed"].any() and not table["precondition_met"].any()
    assert table["reason"].str.startswith("precondition not met").all()


def test_claims_cannot_pass_on_a_really_untrained_model(tmp_path):
    """The real thing: a sweep trained for a single step (W still at its small initial scale)."""
    section = tiny_section()
    section["training"]["steps"] = 1
    section["training"]["log_every"] = 1
    tables = run_pipeline(tmp_path, section)
    # the dense instance of every seed is far below the bar (its initial loss E[x^2] is 4x the baseline)
    assert not claims.seed_trained(tables["instances"], section["claims"]["trained_min_effective_fraction"]).any()
    assert (tables["instances"].query("instance == 0")["effective_features"] < 0).all()
    table = claims.evaluate(tables, claims_params(section))
    assert not table["passed"].any() and not table["precondition_met"].any()


def test_too_few_represented_features_is_a_failed_precondition():
    tables = synthetic_tables(trained=True)
    tables["features"]["represented"] = tables["features"]["instance"] == 0  # 30 per seed ...
    section = default_section()
    section["claims"]["min_features"] = 31  # ... one short
    table = claims.evaluate(tables, claims_params(section)).set_index("claim")
    assert not table.loc["sticky_1_2", "precondition_met"]
    assert "too few represented features" in table.loc["sticky_1_2", "reason"]
    assert table.loc["dims_per_feature_fall", "passed"]  # not its precondition


def test_spearman():
    assert claims.spearman(np.arange(5.0), -(np.arange(5.0) ** 3)) == pytest.approx(-1.0)
    assert np.isnan(claims.spearman(np.arange(3.0), np.ones(3)))


# ---------------------------------------------------------------------------------------------- config


def schema_errors(section: dict) -> list[str]:
    from featurelab.config import schema_errors as errors

    return errors(section, SCHEMA)


@pytest.mark.parametrize("section", [default_section(), tiny_section()])
def test_shipped_sections_are_valid(section):
    assert schema_errors(section) == []
    assert geometry.config_errors({"geometry": section}) == []


def test_full_scale_section_is_valid():
    section = default_section()
    for key, value in yaml.safe_load((REPO / "config" / "full.yaml").read_text())["geometry"].items():
        if isinstance(value, dict):
            section[key].update(value)
        else:
            section[key] = value
    assert schema_errors(section) == [] and geometry.config_errors({"geometry": section}) == []
    assert section["model"] == {"n_features": 400, "n_hidden": 30, "init": "colab"}


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("model", "n_hiddn"), 30, "model.*unknown keys"),
        (("training", "steps"), 0, "training.steps"),
        (("sweep", "inverse_density_min"), 0.5, "sweep.inverse_density_min"),
        (("analysis", "fractions"), ["1/2", "half"], r"analysis.fractions\[1\]"),
        (("model", "init"), "xavier", "model.init"),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(path, value, message):
    section = default_section()
    section[path[0]][path[1]] = value
    errors = schema_errors(section)
    assert errors and any(__import__("re").search(message, e) for e in errors), errors


@pytest.mark.parametrize(
    "path, value, key",
    [
        (("model", "n_hidden"), 400, "geometry.model.n_hidden"),
        (("sweep", "inverse_density_max"), 0.9, "geometry.sweep.inverse_density_max"),
        (("training", "log_every"), 20000, "geometry.training.log_every"),
        (("analysis", "fractions"), ["1/2", "3/0"], "geometry.analysis.fractions[1]"),
        (("analysis", "fractions"), ["1/2", "3/2"], "geometry.analysis.fractions[1]"),
        (("analysis", "fractions"), ["1/2", "2/4"], "geometry.analysis.fractions"),
        (("claims", "tolerance"), 0.02, "geometry.claims.tolerance"),
    ],
)
def test_semantic_checks_name_the_key(path, value, key):
    section = default_section()
    section[path[0]][path[1]] = value
    errors = geometry.config_errors({"geometry": section})
    assert len(errors) == 1 and errors[0].startswith(f"config key '{key}'"), errors
    assert geometry.config_errors({}) == []


def test_fraction_labels_follow_the_paper():
    assert geometry.fraction_label("1/2") == "1/2 (digon: antipodal pair)"
    assert geometry.fraction_label("3/8") == "3/8 (square antiprism)"
    assert geometry.fraction_label("2/7") == "2/7"
    np.testing.assert_allclose(
        1 / train.feature_probabilities({"n_instances": 3, "inverse_density_min": 1, "inverse_density_max": 100}),
        [1, 10, 100],
    )


def test_verdicts_do_not_flip_with_the_last_bits(tmp_path):
    """Every number the claims read, moved by 1e-9 relative: the same verdicts, preconditions and counts."""
    section = tiny_section()
    tables = run_pipeline(tmp_path, section)
    params = claims_params(section)
    before = claims.evaluate(tables, params)
    for sign in (1.0, -1.0):
        moved = {k: v.copy() for k, v in tables.items()}
        moved["features"]["dimensionality"] *= 1 + sign * 1e-9
        for col in ("effective_features", "dims_per_feature", "inverse_density"):
            moved["instances"][col] *= 1 + sign * 1e-9
        after = claims.evaluate(moved, params)
        for col in ("passed", "precondition_met", "seeds_passing"):
            assert after[col].tolist() == before[col].tolist(), col
