"""The geometry study's training: the hand-written backward against autograd, the colab init, batched
against one-instance training, determinism, checkpoint resume, and what the training job imports. (The
inputs' distribution: tests/test_sparse_uniform.py; AdamW against torch's: tests/test_optim.py.)"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from featurelab.optim import AdamW
from featurelab.sparse_uniform import SparseUniform
from featurelab.studies.geometry import train
from featurelab.tms import relu_output_loss
from tests.helpers import REPO, study_section, tiny


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hand_written_backward_equals_autograd(reduction):
    g = torch.Generator().manual_seed(1)
    model = train.SweepModel.initialised(3, 5, 20, "per_instance", g).double()
    with torch.no_grad():
        model.b.normal_(0.0, 0.3, generator=g)
    x = SparseUniform([1.0, 0.3, 0.05], 20, seed=1).draw(64).double()
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
        lambda W, b: relu_output_loss(W, b, x, 1.0 / 64),
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
    sampler = SparseUniform([1.0, 0.3, 0.05], 12, seed=3)
    data = [sampler.draw(32).clone() for _ in range(30)]
    batched, single = train.SweepModel(W0), train.SweepModel(W0[1:2])
    train.fit(batched, AdamW(batched.parameters(), lr=0.01), lambda s: data[s], small_training(), seed=0)
    train.fit(single, AdamW(single.parameters(), lr=0.01), lambda s: data[s][1:2], small_training(), seed=0)
    torch.testing.assert_close(batched.W[1:2], single.W, rtol=2e-6, atol=1e-7)
    torch.testing.assert_close(batched.b[1:2], single.b, rtol=2e-6, atol=1e-7)
    assert not torch.allclose(batched.W[1], W0[1])  # it did train


def tiny_run(section: dict, seed: int = 0, **kwargs):
    return train.train_sweep(
        seed, section["model"], section["sweep"], section["training"], section["evaluation"], "cpu", **kwargs
    )


def test_training_is_deterministic_and_seeds_differ():
    section = study_section("geometry", tiny())
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
    section = study_section("geometry", tiny())
    section["training"]["steps"] = 120
    section["training"]["log_every"] = 40
    ckpt = tmp_path / "weights.npz.ckpt"
    reference = tiny_run(section)
    real = SparseUniform.draw
    calls = {"n": 0}

    def dies_after_80_steps(self, batch):
        if batch == section["training"]["batch_size"]:
            calls["n"] += 1
            if calls["n"] > 80 + 4 * 3:  # 80 training draws, 4 evaluation chunks at steps 0, 40, 80
                raise KeyboardInterrupt("killed")
        return real(self, batch)

    monkeypatch.setattr(SparseUniform, "draw", dies_after_80_steps)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(section, checkpoint_to=str(ckpt), checkpoint_every=40)
    assert ckpt.exists()
    monkeypatch.setattr(SparseUniform, "draw", real)
    resumed = tiny_run(section, checkpoint_to=str(ckpt), checkpoint_every=40)
    assert not ckpt.exists()  # removed once training finished
    assert resumed[0] == reference[0]
    for key in reference[1]:
        assert np.array_equal(resumed[1][key], reference[1][key]), key


def test_training_job_imports_neither_pandas_nor_matplotlib(tmp_path):
    """Importing the training module and training load no pandas/matplotlib (job start-up). Writing the
    parquet does load pandas: pyarrow's ``pa.array`` imports it whenever it is installed (every featurelab
    training job pays this); matplotlib stays out to the end."""
    section = study_section("geometry", tiny())
    section["training"]["steps"] = 5
    section["training"]["log_every"] = 5
    code = f"""
import json, sys
from types import SimpleNamespace
sys.path.insert(0, {str(REPO / "src")!r})
heavy = lambda: sorted(m for m in ("pandas", "matplotlib", "sklearn", "scipy", "seaborn") if m in sys.modules)
from featurelab.studies.geometry import train
from featurelab.sparse_uniform import SparseUniform
from featurelab.tms import relu_output_loss
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
