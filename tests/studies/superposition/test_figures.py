"""The superposition study's figures: which recorded epochs the arrow panels show."""

from __future__ import annotations

from featurelab.studies.superposition.figures import arrow_epochs


def test_arrow_epochs_keep_first_and_last():
    assert arrow_epochs([0, 1, 2, 5, 10, 15, 20]) == [0, 1, 2, 5, 10, 15, 20]
    assert arrow_epochs(list(range(21))) == [0, 3, 7, 10, 13, 17, 20]
