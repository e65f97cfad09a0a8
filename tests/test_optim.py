"""featurelab.optim reproduces torch.optim bit for bit (it exists only to skip torch._dynamo's import)."""

from __future__ import annotations

import pytest
import torch

from featurelab.optim import AdamW, learning_rate, make_optimizer


def trajectories(ours_name: str, lr: float, steps: int = 25):
    torch.manual_seed(0)
    model_a = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    model_b = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    model_b.load_state_dict(model_a.state_dict())
    ours = make_optimizer(ours_name, model_a.parameters(), lr)
    ref = (
        torch.optim.Adam(model_b.parameters(), lr=lr, foreach=False)
        if ours_name == "adam"
        else torch.optim.SGD(model_b.parameters(), lr=lr, foreach=False)
    )
    data = torch.randn(steps, 16, 6, generator=torch.Generator().manual_seed(1))
    for x in data:
        for model, opt in ((model_a, ours), (model_b, ref)):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    return model_a, model_b


@pytest.mark.parametrize("name, lr", [("adam", 1e-3), ("adam", 0.05), ("sgd", 0.1)])
def test_matches_torch_optim_exactly(name, lr):
    a, b = trajectories(name, lr)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_adam_skips_parameters_without_gradients_like_torch():
    torch.manual_seed(0)
    used, unused = torch.randn(3, requires_grad=True), torch.randn(2, requires_grad=True)
    ref_used, ref_unused = used.detach().clone().requires_grad_(), unused.detach().clone().requires_grad_()
    ours = make_optimizer("adam", [used, unused], 0.1)
    ref = torch.optim.Adam([ref_used, ref_unused], lr=0.1, foreach=False)
    for _ in range(3):
        for p, opt in ((used, ours), (ref_used, ref)):
            opt.zero_grad()
            p.square().sum().backward()
            opt.step()
    assert torch.equal(used, ref_used) and torch.equal(unused, ref_unused)


def test_adamw_is_torch_adamw_bit_for_bit():
    g = torch.Generator().manual_seed(2)
    a = [torch.randn(4, 7, generator=g, requires_grad=True), torch.randn(7, generator=g, requires_grad=True)]
    b = [t.detach().clone().requires_grad_() for t in a]
    ours = AdamW(a, lr=3e-3, weight_decay=0.05)
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


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="rmsprop"):
        make_optimizer("rmsprop", [torch.zeros(1, requires_grad=True)], 0.1)


def test_learning_rate_schedules():
    assert learning_rate("constant", 0.1, 50, 100) == 0.1
    assert learning_rate("linear", 0.1, 0, 100, final_lr=1e-6) == pytest.approx(0.1)
    assert learning_rate("linear", 0.1, 100, 100, final_lr=1e-6) == pytest.approx(1e-6)
    assert learning_rate("cosine", 0.1, 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate("cosine", 0.1, 50, 100) == pytest.approx(0.05)
