"""The hierarchy study's training runs (tree depths and the classic TMS sweep): deterministic, learning,
shaped as the tables expect."""

from __future__ import annotations


def test_train_depth_deterministic_and_learns():
    from featurelab.studies.hierarchy.train import train_depth

    tree = {"depths": [2], "branching_factor": 2, "sampling": "exclusive"}
    training = {
        "steps": 300,
        "batch_size": 256,
        "learning_rate": 0.01,
        "lr_schedule": "constant",
        "log_every": 100,
        "estimator": "patterns",
    }
    model = {"n_hidden": [2, 3, 6, 7], "init": "notebook", "init_instances": 5}
    a = train_depth(2, 0, tree, model, training, {"n_samples": 300}, "cpu")
    b = train_depth(2, 0, tree, model, training, {"n_samples": 300}, "cpu")
    assert a == b
    metrics = a[0]
    assert sorted(set(metrics["n_hidden"])) == [2, 3, 6]  # 7 > 6 features is skipped
    exact = [
        (s, h, v)
        for s, h, m, v in zip(metrics["step"], metrics["n_hidden"], metrics["metric"], metrics["value"])
        if m == "loss_exact"
    ]
    first = {h: v for s, h, v in exact if s == 0}
    last = {h: v for s, h, v in exact if s == 300}
    assert all(last[h] < first[h] for h in first)
    # the samples estimator runs too (the notebook's path)
    train_depth(
        1,
        0,
        tree,
        {**model, "n_hidden": [2]},
        {**training, "steps": 5, "estimator": "samples"},
        {"n_samples": 10},
        "cpu",
    )
    # the init option is used: per_instance starts from other (larger) weights
    c = train_depth(2, 0, tree, {**model, "init": "per_instance"}, training, {"n_samples": 300}, "cpu")
    assert c[1]["value"] != a[1]["value"]


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
