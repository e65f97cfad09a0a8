"""The learnability study's batched MLP: padded instances train like separate torch.nn networks, the init
follows nn.Linear's, input gradients."""

from __future__ import annotations

import numpy as np
import torch

from featurelab.init import in_out_linear_default
from featurelab.seeding import torch_generator


def _reference(d: int, hidden: int, gen: torch.Generator) -> torch.nn.Sequential:
    net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    with torch.no_grad():
        w, b = in_out_linear_default(d, hidden, gen)
        net[0].weight.copy_(w.T)
        net[0].bias.copy_(b)
        w, b = in_out_linear_default(hidden, 1, gen)
        net[2].weight.copy_(w.T)
        net[2].bias.copy_(b)
    return net


def test_batched_model_matches_unbatched_reference_under_adam():
    """Instances of different input sizes in one padded batched model train exactly like separate
    torch.nn networks with their own Adam: the per-instance loss summed keeps gradients independent."""
    from featurelab.optim import Adam
    from featurelab.studies.learnability.model import BatchedMLP, per_instance_mse

    dims, hidden, batch, steps = [1, 3, 7], 8, 4, 25
    model = BatchedMLP(dims, hidden, [torch_generator("t", i, "init") for i in range(len(dims))])
    refs = [_reference(d, hidden, torch_generator("t", i, "init")) for i, d in enumerate(dims)]
    opt = Adam(model.parameters(), lr=1e-2)
    ref_opts = [torch.optim.Adam(r.parameters(), lr=1e-2, foreach=False) for r in refs]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = torch.zeros(len(dims), batch, max(dims))
        for i, d in enumerate(dims):
            x[i, :, :d] = torch.from_numpy(rng.standard_normal((batch, d)).astype(np.float32))
        y = torch.from_numpy(rng.standard_normal((len(dims), batch)).astype(np.float32))
        opt.zero_grad()
        loss = per_instance_mse(model(x), y)
        loss.sum().backward()
        opt.step()
        for i, (r, o) in enumerate(zip(refs, ref_opts)):
            o.zero_grad()
            ref_loss = torch.nn.functional.mse_loss(r(x[i, :, : dims[i]]), y[i][:, None])
            ref_loss.backward()
            o.step()
            torch.testing.assert_close(loss[i], ref_loss, rtol=1e-5, atol=1e-6)
    for i, r in enumerate(refs):
        for key, value in model.instance_state(i).items():
            torch.testing.assert_close(value, r.state_dict()[key], rtol=1e-5, atol=1e-6)
    assert torch.count_nonzero(model.w1[0, 1:]) == 0 and torch.count_nonzero(model.w1[1, 3:]) == 0  # padding stays 0


def test_init_follows_nn_linear_bounds_and_is_per_instance():
    from featurelab.studies.learnability.model import BatchedMLP

    a = BatchedMLP([4, 100], 8, [torch_generator("t", "a"), torch_generator("t", "b")])
    b = BatchedMLP([100], 8, [torch_generator("t", "b")])
    assert a.w1[0, :4].abs().max() <= 0.5 and a.w1[1].abs().max() <= 0.1 and a.w1[1].abs().max() > 0.09
    torch.testing.assert_close(a.w1[1], b.w1[0], rtol=0, atol=0)  # independent of the batch it is in


def test_input_gradients_known_answer():
    """A net computing relu(x0) - relu(-x0) + 0*x1 = x0 has gradient (1, 0) everywhere."""
    from featurelab.studies.learnability.model import BatchedMLP, input_gradients

    model = BatchedMLP([2], 2, [torch_generator("t")])
    with torch.no_grad():
        model.w1.zero_()
        model.b1.zero_()
        model.b2.zero_()
        model.w1[0, 0, 0], model.w1[0, 0, 1] = 1.0, -1.0
        model.w2[0, :, 0] = torch.tensor([1.0, -1.0])
    x = torch.randn(1, 50, 2, generator=torch_generator("x"))
    g = input_gradients(model, x)
    torch.testing.assert_close(g[0, :, 0], torch.ones(50))
    torch.testing.assert_close(g[0, :, 1], torch.zeros(50))
