"""The one form of a study's figure registry: every study's figures module has ``FIGURES: dict[str,
Figure]``; what the workflow reads from its source is what the module holds; every figure has its caption in
the study's report file, and every caption a figure."""

from __future__ import annotations

import importlib
import re

import pytest

from featurelab.figure_registry import Figure, figures_of
from tests.helpers import REPO

STUDIES = ["complexity", "hierarchy", "dissociation", "superposition", "learnability", "geometry"]


@pytest.mark.parametrize("study", STUDIES)
def test_the_registry_the_workflow_reads_is_the_modules(study):
    module = importlib.import_module(f"featurelab.studies.{study}.figures")
    assert all(isinstance(f, Figure) and callable(f.draw) and f.tables for f in module.FIGURES.values())
    assert figures_of(study) == {name: f.tables for name, f in module.FIGURES.items()}


@pytest.mark.parametrize("study", STUDIES)
def test_every_figure_has_a_caption_and_every_caption_a_figure(study):
    captions = (REPO / "workflow" / "report" / f"{study}.rst").read_text()
    named = set(re.findall(r'snakemake\.wildcards\.figure == "([a-z0-9_]+)"', captions))
    registry = set(figures_of(study))
    assert named == registry, (named, registry)


def test_a_figure_that_needs_a_generator_is_left_out_without_it():
    assert "scale_shift_heatmap" in figures_of("learnability", {"scale_shift", "distractors"})
    assert "scale_shift_heatmap" not in figures_of("learnability", {"distractors"})
    assert "learning_curves" in figures_of("learnability", set())
