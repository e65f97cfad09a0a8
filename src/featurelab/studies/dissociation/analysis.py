"""Aggregation and claims of the dissociation study (pandas; no torch, so these jobs start fast)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from featurelab.provenance import canonical_json
from featurelab.stats import summarize_over_seeds
from featurelab.studies.dissociation import STUDY

SUMMARY_KEYS = ["evaluation", "condition", "model", "x_name", "x", "metric"]


def transfer_probe(upstream: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The probe record (``transfer_probe``) the per-seed transfer tables' provenance carries; one for all
    seeds, or an error naming the disagreement (tables of different configs must not be mixed)."""
    probes = {
        canonical_json(u.get("config", {}).get("transfer_probe")): u.get("config", {}).get("transfer_probe")
        for u in upstream
    }
    if len(probes) > 1:
        raise ValueError(f"the transfer tables were made by different probes: {sorted(probes)}")
    return next(iter(probes.values()), None)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, n and 95% t-interval over seeds of every (evaluation, network, x, metric)."""
    out = summarize_over_seeds(runs, SUMMARY_KEYS)
    out.insert(0, "study", STUDY)
    return out


def probe_label(probe: Mapping[str, Any] | None) -> str:
    """A short line naming the probe that made the transfer table (its provenance record); the claims'
    statements and the transfer figure's title both use it, so they name the probe the same way."""
    if not probe:
        return "probe not recorded"
    if probe.get("name") == "repo":
        return f"paper's probe: GD lr {probe['learning_rate']:g}, {probe['steps']} steps"
    if probe.get("name") == "lipschitz":
        return f"lipschitz probe: GD step 1/L, {probe['steps']} steps, l2 {probe['l2']:g}"
    return f"probe {probe.get('name')}"


def aggregate_job(smk: Any) -> None:
    """Every seed's tables in one, and mean/sd/95% CI over seeds.

    The job of rule ``dissociation_aggregate``.
    """
    import pandas as pd

    from featurelab.io import read_frame, read_provenance, write_table
    from featurelab.provenance import provenance

    paths = [*smk.input.training, *smk.input.evaluation, *smk.input.transfer]
    runs = pd.concat([read_frame(p) for p in paths], ignore_index=True)
    runs = runs.sort_values(["evaluation", "condition", "seed", "metric", "x"], kind="stable").reset_index(drop=True)
    upstream = [read_provenance(p) for p in paths]
    probe = transfer_probe([read_provenance(p) for p in smk.input.transfer])
    record = provenance(
        {
            "inputs": [{"path": p, "config_hash": u.get("config_hash")} for p, u in zip(paths, upstream)],
            "transfer_probe": probe,
        },
        rule=smk.rule,
    )
    write_table(runs, smk.output.runs, record)
    write_table(summarize(runs), smk.output.summary, record)
