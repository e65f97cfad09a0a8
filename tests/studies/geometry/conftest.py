"""Fixtures of the geometry tests: the study's jobs run in process with a fake ``snakemake`` object
(types.SimpleNamespace); the rules run end to end in test_workflow.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from featurelab.studies.geometry import analysis, train


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


def run_jobs(tmp_path: Path, section: dict, seeds=(0, 1)) -> dict[str, pd.DataFrame]:
    """The study's training job for each of ``seeds`` and its aggregation job, in ``tmp_path``: the tables
    (features, instances, curves) the claims and figures read."""
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


@pytest.fixture
def run_pipeline(tmp_path):
    """``run_pipeline(section, seeds=(0, 1))``: :func:`run_jobs` in the test's temporary folder."""
    return lambda section, seeds=(0, 1): run_jobs(tmp_path, section, seeds)
