"""featurelab.devices: deterministic kernels without a slow start-up."""

import subprocess
import sys

import pytest

from featurelab.devices import resolve_device

CHECK = """
import sys
from featurelab.devices import configure_torch
import torch
configure_torch(1)
assert torch.are_deterministic_algorithms_enabled()
assert not torch.is_deterministic_algorithms_warn_only_enabled()
assert torch.get_num_threads() == 1
print(sorted(m for m in sys.modules if m.startswith(("torch._dynamo", "torch._inductor"))))
"""


def test_configure_torch_is_deterministic_without_importing_the_compiler() -> None:
    """A training job's start-up stays small: no torch._dynamo / torch._inductor (about 1.3 s) on import."""
    out = subprocess.run([sys.executable, "-c", CHECK], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_aten_sees_the_deterministic_flag() -> None:
    """The flag set is the one ATen reads: in deterministic mode it fills uninitialised memory with NaN."""
    code = CHECK + "assert torch.empty(64).isnan().all(), 'ATen did not see the deterministic flag'\n"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


FAULTS = """
import resource, sys, torch
from featurelab.devices import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
from featurelab.models.mlp import MLP
model, x = MLP(32, [256, 128, 64, 64, 2]), torch.ones(1024, 32)
model(x)[0].sum().backward()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):  # training steps of the complexity MLP: megabyte-sized activations allocated and freed
    model(x)[0].sum().backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_freed_activations_are_reused_instead_of_refaulted() -> None:
    faults = {mode: int(subprocess.run([sys.executable, "-c", FAULTS, mode], check=True, capture_output=True,
                                       text=True).stdout) for mode in ("default", "reuse")}
    assert faults["reuse"] < faults["default"] / 10, faults


def test_resolve_device_names_the_key() -> None:
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="'device'"):
        resolve_device("tpu")
