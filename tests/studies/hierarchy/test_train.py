"""The hierarchy study's training runs (tree depths and the classic TMS sweep): deterministic, learning,
shaped as the tables expect."""

from __future__ import annotations

TREE = {"depths": [1, 2, 3], "branching_factor": 2, "sampling": "exclusive"}
TRAINING = {
    "steps": 300,
    "batch_size": 256,
    "learning_rate": 0.01,
    "lr_schedule": "constant",
    "log_every": 100,
    "estimator": "patterns",
}
MODEL = {"n_hidden": [2, 3, 6, 7], "init": "notebook", "init_instances": 5}


def _by_instance(metrics: dict) -> dict:
    keys = zip(metrics["depth"], metrics["n_hidden"], metrics["step"], metrics["metric"])
    return dict(zip(keys, metrics["value"]))


def test_train_seed_deterministic_and_learns():
    from featurelab.studies.hierarchy.train import train_seed

    a = train_seed(0, TREE, MODEL, TRAINING, {"n_samples": 300}, "cpu")
    assert a == train_seed(0, TREE, MODEL, TRAINING, {"n_samples": 300}, "cpu")
    metrics = a[0]
    widths = {d: sorted({h for dd, h in zip(metrics["depth"], metrics["n_hidden"]) if dd == d}) for d in (1, 2, 3)}
    assert widths == {1: [2], 2: [2, 3, 6], 3: [2, 3, 6, 7]}  # a width above a depth's features is skipped
    values = _by_instance(metrics)
    for (depth, h, step, metric), v in values.items():
        if step == 0 and metric == "loss_exact":
            assert values[(depth, h, 300, metric)] < v, (depth, h)
    # the weights: every real feature of every (depth, width), no padded ones
    weights = a[1]
    assert max(f for d, f in zip(weights["depth"], weights["feature"]) if d == 1) == 1
    assert len(weights["value"]) == sum((h + 1) * (2 ** (d + 1) - 2) for d, hs in widths.items() for h in hs)
    # the samples estimator runs too (the notebook's path)
    train_seed(
        0, TREE, {**MODEL, "n_hidden": [2]}, {**TRAINING, "steps": 5, "estimator": "samples"}, {"n_samples": 10}, "cpu"
    )
    # the init option is used: per_instance starts from other (larger) weights
    c = train_seed(0, TREE, {**MODEL, "init": "per_instance"}, TRAINING, {"n_samples": 300}, "cpu")
    assert c[1]["value"] != a[1]["value"]


def test_each_depth_trains_as_it_would_alone():
    """All depths in one batched model = each depth trained on its own, to float rounding: the instances
    share no parameter and each depth draws from its own random streams. The tolerance (rtol 1e-4 after
    300 Adam steps) allows the summation order of differently padded products, not a lost or mixed-up
    instance, which moves losses by far more."""
    import numpy as np

    from featurelab.studies.hierarchy.train import train_seed

    together = _by_instance(train_seed(1, TREE, MODEL, TRAINING, {"n_samples": 300}, "cpu")[0])
    alone = {}
    for depth in TREE["depths"]:
        alone |= _by_instance(train_seed(1, {**TREE, "depths": [depth]}, MODEL, TRAINING, {"n_samples": 300}, "cpu")[0])
    assert together.keys() == alone.keys()
    keys = sorted(together)
    np.testing.assert_allclose([together[k] for k in keys], [alone[k] for k in keys], rtol=1e-4, atol=1e-7)


def test_train_tms_shapes():
    from featurelab.studies.hierarchy.train import train_tms

    tms = {
        "n_features": 6,
        "n_hidden": 2,
        "importance_decay": 0.7,
        "sparsities": [0.0, 0.9],
        "represented_norm": 0.5,
        "training": {"steps": 20, "batch_size": 32, "learning_rate": 0.01, "lr_schedule": "cosine", "log_every": 10},
    }
    metrics, weights = train_tms(0, tms, "cpu")
    assert sorted(set(metrics["step"])) == [0, 10, 20]
    assert len(weights["value"]) == 2 * (2 + 1) * 6  # sparsities x (hidden rows + bias) x features
    assert train_tms(0, tms, "cpu") == (metrics, weights)
