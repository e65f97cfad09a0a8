"""The binary-feature datasets of the complexity study: truth tables, balance, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from featurelab.seeding import numpy_rng
from featurelab.studies.complexity.data import (
    BIT_PATTERNS,
    FEATURES,
    HARD_FEATURES,
    alternating_labels,
    make_dataset,
    truth_table,
)
from featurelab.studies.complexity.train import make_splits

EXPLICIT = {
    "and": lambda p, q: p and q,
    "or": lambda p, q: p or q,
    "xor": lambda p, q: p != q,
}


def test_there_are_27_hard_features_and_linear():
    assert len(HARD_FEATURES) == 27 and len(set(HARD_FEATURES)) == 27
    assert FEATURES[0] == "linear" and len(FEATURES) == 28


@pytest.mark.parametrize("feature", HARD_FEATURES)
def test_truth_table_matches_explicit_logic(feature):
    top, left, right = (EXPLICIT[op] for op in feature.split("_"))
    expected = [
        int(bool(top(left(bool(a), bool(b)), right(bool(c), bool(d)))))
        for a, b, c, d in itertools.product((0, 1), repeat=4)
    ]
    assert truth_table(feature).tolist() == expected


def test_bit_patterns_enumerate_all_assignments_in_order():
    assert BIT_PATTERNS.shape == (16, 4)
    assert [int("".join(map(str, row)), 2) for row in BIT_PATTERNS] == list(range(16))


def test_xor_xor_xor_is_parity():
    assert truth_table("xor_xor_xor").tolist() == [bin(r).count("1") % 2 for r in range(16)]


def test_unknown_feature_is_rejected_by_name():
    with pytest.raises(ValueError, match="xor_nand_or"):
        truth_table("xor_nand_or")


@pytest.mark.parametrize("n", [1, 2, 7, 1024])
def test_alternating_labels_are_balanced(n):
    labels = alternating_labels(n, np.random.default_rng(0))
    assert labels.sum() == n // 2


@pytest.mark.parametrize("pair", [("linear", "xor_xor_xor"), ("and_and_and", "or_or_or"), ("linear", "linear")])
def test_labels_are_the_features_of_the_inputs(pair):
    units, copies = 16, 4
    x, y = make_dataset(list(pair), 2048, np.random.default_rng(1), units_per_feature=units, linear_copies=copies)
    assert x.shape == (2048, 2 * units) and y.shape == (2048, 2)
    for i, feature in enumerate(pair):
        block = x[:, i * units : (i + 1) * units]
        if feature == "linear":
            assert (block[:, :copies] == block[:, :1]).all(), "the linear unit is copied onto its copies"
            assert (y[:, i] == block[:, 0]).all()
        else:
            rows = block[:, :4] @ np.array([8, 4, 2, 1])
            assert (y[:, i] == truth_table(feature)[rows]).all()
            # Balanced exactly as the notebook's alternating rejection sampling: half of each label.
            assert y[:, i].sum() == 1024
    # Bits that no feature reads stay uniformly random (not all zero, not all one).
    assert 0.4 < x[:, 8:16].mean() < 0.6


def test_and_and_and_is_balanced_although_rare():
    """and_and_and is 1 in 1/16 of uniform inputs; balancing must still give exactly 50 %."""
    _, y = make_dataset(["and_and_and"], 1000, np.random.default_rng(2))
    assert y[:, 0].sum() == 500


def test_same_seed_same_dataset_other_seed_other_dataset():
    cfg = {"units_per_feature": 16, "linear_copies": 4, "n_train": 512, "n_rep_fit": 128, "n_test": 128}
    pair = ["linear", "xor_xor_xor"]
    a, b, c = make_splits(pair, 0, cfg), make_splits(pair, 0, cfg), make_splits(pair, 1, cfg)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert not np.array_equal(a["train_inputs"], c["train_inputs"])


def test_the_three_splits_use_distinct_streams():
    cfg = {"units_per_feature": 16, "linear_copies": 4, "n_train": 256, "n_rep_fit": 256, "n_test": 256}
    s = make_splits(["linear", "xor_xor_xor"], 0, cfg)
    assert not np.array_equal(s["train_inputs"], s["test_inputs"])
    assert not np.array_equal(s["rep_fit_inputs"], s["test_inputs"])


def test_generator_streams_depend_on_every_part_of_the_name():
    draws = {
        parts: numpy_rng(*parts).integers(0, 2**31)
        for parts in [("complexity", "a", 0), ("complexity", "a", 1), ("complexity", "b", 0), ("hierarchy", "a", 0)]
    }
    assert len(set(draws.values())) == len(draws)
