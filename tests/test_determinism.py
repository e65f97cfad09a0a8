"""Why results do not depend on --cores: a job's torch thread count comes from the config, not from
what Snakemake grants (which is capped at --cores), because the thread count changes float sums."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from featurelab.devices import torch_threads


def fake_job(rule: str, granted: int, config: dict) -> SimpleNamespace:
    return SimpleNamespace(rule=rule, threads=granted, config=config)


def test_torch_threads_follow_the_config_not_the_granted_cores():
    config = {"dissociation": {"resources": {"threads": 4}}, "complexity": {"seeds": [0]}}
    assert torch_threads(fake_job("dissociation_train", 2, config)) == 4  # --cores 2 caps Snakemake's threads
    assert torch_threads(fake_job("dissociation_transfer", 4, config)) == 4
    assert torch_threads(fake_job("complexity_train", 1, config)) == 1  # no resources section: granted
    assert torch_threads(SimpleNamespace(rule="x_y", threads=3)) == 3  # no config at all


def test_thread_count_changes_the_last_bits_of_a_sum():
    """The reason for the above (if torch ever makes this thread-independent, the test documents it)."""
    x = torch.randn(4_000_000, generator=torch.Generator().manual_seed(0))
    before = torch.get_num_threads()
    try:
        sums = set()
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            sums.add(float(x.sum()))
    finally:
        torch.set_num_threads(before)
    if len(sums) == 1:
        pytest.skip("this torch build sums thread-independently; torch_threads is then merely harmless")


def test_provenance_records_the_torch_threads_used_not_the_granted_ones():
    from featurelab.scripting import TorchJob

    config = {"dissociation": {"resources": {"threads": 3}}}
    smk = SimpleNamespace(rule="dissociation_train", threads=2, config=config, params=SimpleNamespace(device="cpu"))
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        job = TorchJob(smk)  # Snakemake granted 2 (--cores 2); the config asks for 3
        assert torch.get_num_threads() == 3
        assert job.provenance({"seed": 0})["threads"] == 3
    finally:  # TorchJob configures this test process's torch: put it back for the other tests
        torch.set_num_threads(threads)
        torch._C._set_deterministic_algorithms(deterministic)
