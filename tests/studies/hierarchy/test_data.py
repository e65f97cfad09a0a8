"""Tests of the hierarchy study: tree generator, pattern estimator, batched TMS model, config, end to end."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import yaml

from featurelab.studies.hierarchy.data import (check_branching_factor, expected_marginals, feature_levels, feature_parents,
                                       n_features, pattern_counts, sample_tree, tree_patterns)
from featurelab.studies.hierarchy.model import BatchedTMS
from featurelab.optim import Adam

from conftest import REPO, SCHEMA, TINY_CONFIG, scheduled_rules, snakemake


# --------------------------------------------------------------------------------------------- generator

def test_tree_shape_levels_parents():
    assert [n_features(d) for d in (1, 2, 3, 6)] == [2, 6, 14, 126]
    assert feature_levels(2).tolist() == [1, 1, 2, 2, 2, 2]
    # heap: node p's children are 2p+1, 2p+2; feature i = node i+1; level-1 parents are the root (-1)
    assert feature_parents(2).tolist() == [-1, -1, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="branching_factor"):
        check_branching_factor(3)


@pytest.mark.parametrize("mode", ["exclusive", "one_child"])
def test_sampler_invariants_and_marginals(mode):
    depth, n = 4, 40_000
    x = sample_tree(n, depth, mode, np.random.default_rng(1)).astype(bool)
    assert x.shape == (n, n_features(depth))
    parents = feature_parents(depth)
    child = parents >= 0
    assert not (x[:, child] & ~x[:, parents[child]]).any(), "a child is active without its parent"
    assert not (x[:, 0::2] & x[:, 1::2]).any(), "two siblings are active together"
    if mode == "one_child":
        # exactly one child of every active parent (and one of the root's children)
        pair_on = x[:, 0::2] | x[:, 1::2]
        pair_parent = np.concatenate([np.ones((n, 1), bool), x[:, : pair_on.shape[1] - 1]], axis=1)
        assert (pair_on == pair_parent).all()
    p = expected_marginals(depth, mode)
    z = np.abs(x.mean(0) - p) / np.sqrt(p * (1 - p) / n)
    assert z.max() < 5
    assert np.allclose(expected_marginals(3, "exclusive")[[0, 2, 6]], [1 / 4, 1 / 16, 1 / 64])


@pytest.mark.parametrize("mode", ["exclusive", "one_child"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_patterns_are_the_sampler_distribution(mode, depth):
    patterns, probs = tree_patterns(depth, mode)
    assert probs.sum() == pytest.approx(1.0)
    assert len(patterns) == (2 ** (depth + 1) - 1 if mode == "exclusive" else 2 ** depth)
    assert len(np.unique(patterns, axis=0)) == len(patterns)
    np.testing.assert_allclose(patterns.T @ probs, expected_marginals(depth, mode), rtol=0, atol=1e-15)
    n = 50_000
    x = sample_tree(n, depth, mode, np.random.default_rng(2))
    rows, counts = np.unique(x, axis=0, return_counts=True)
    assert len(rows) == len(patterns)  # every sampled row is a pattern, and every pattern occurs
    lookup = {r.tobytes(): p for r, p in zip(patterns, probs)}
    for r, c in zip(rows, counts):
        p = lookup[r.tobytes()]
        assert abs(c / n - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_pattern_weighted_loss_equals_expanded_batch_loss():
    """The pattern estimator is the batch mean: weights = counts / B give the same loss and gradient."""
    depth = 3
    patterns, probs = tree_patterns(depth, "exclusive")
    counts = pattern_counts(1, 256, probs, np.random.default_rng(0))[0]
    assert counts.sum() == 256
    expanded = torch.as_tensor(np.repeat(patterns, counts, axis=0))
    model = BatchedTMS([2, 4, 6], n_features(depth), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.b.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    loss_full = model.loss(expanded)
    grad_full = torch.autograd.grad(loss_full.sum(), model.W)[0]
    weights = torch.as_tensor(counts / 256, dtype=torch.float32)
    loss_pat = model.loss(torch.as_tensor(patterns), weights)
    grad_pat = torch.autograd.grad(loss_pat.sum(), model.W)[0]
    torch.testing.assert_close(loss_pat, loss_full, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad_pat, grad_full, rtol=1e-4, atol=1e-7)


# ----------------------------------------------------------------------------------------------- model

@torch.no_grad()
def test_known_answer_perfect_reconstruction():
    """Two exclusive features in 2 dimensions: W = I, b = 0 reconstructs every pattern exactly."""
    model = BatchedTMS([2], 2)
    model.W.copy_(torch.eye(2)[None])
    patterns, probs = tree_patterns(1, "exclusive")
    assert float(model.loss(torch.as_tensor(patterns), torch.as_tensor(probs, dtype=torch.float32))) == 0.0
    # and a model that outputs nothing loses the features' mean square, 1/4 each: loss = 1/4
    model.W.zero_()
    assert float(model.loss(torch.as_tensor(patterns), torch.as_tensor(probs, dtype=torch.float32))) == 0.25


def test_per_instance_init_is_xavier_of_one_model():
    model = BatchedTMS([4, 40], 200, generator=torch.Generator().manual_seed(0), init="per_instance")
    W = model.W.detach()
    assert W[0, :4].std().item() == pytest.approx((2 / (4 + 200)) ** 0.5, rel=0.1)
    assert W[1, :40].std().item() == pytest.approx((2 / (40 + 200)) ** 0.5, rel=0.05)
    assert (W[0, 4:] == 0).all()


@pytest.mark.parametrize("n_hidden,nf", [(2, 6), (4, 30), (10, 62)])
def test_notebook_init_is_torch_xavier_on_the_3d_tensor(n_hidden, nf):
    """The notebook: nn.init.xavier_normal_(t.empty((n_instances, n_hidden, n_features))), 5 instances."""
    from torch import nn

    from featurelab.studies.hierarchy.model import init_std

    t = torch.empty((5, n_hidden, nf))
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(t)  # torch's own fans: dim 1, dim 0, x dim 2
    assert init_std("notebook", n_hidden, nf, 5) == pytest.approx((2.0 / (fan_in + fan_out)) ** 0.5, rel=1e-12)
    assert init_std("notebook", n_hidden, nf, 5) == pytest.approx((2 / (nf * (n_hidden + 5))) ** 0.5, rel=1e-12)
    # and empirically: torch's xavier_normal_ draws (many copies of) that tensor with the same std as ours
    reference = torch.cat([nn.init.xavier_normal_(torch.empty((5, n_hidden, nf)), generator=torch.Generator()
                                                  .manual_seed(k)) for k in range(400)])
    model = BatchedTMS([n_hidden] * 400, nf, generator=torch.Generator().manual_seed(1), init="notebook",
                       init_instances=5)
    ours = model.W.detach()
    assert ours.std().item() == pytest.approx(reference.std().item(), rel=0.03)
    assert ours.std().item() == pytest.approx(init_std("notebook", n_hidden, nf, 5), rel=0.03)
    # the instance count is the notebook's, not the number of instances in the batch
    assert init_std("notebook", n_hidden, nf, 5) != init_std("notebook", n_hidden, nf, 400)
    per_instance = init_std("per_instance", n_hidden, nf)
    assert 1.9 <= per_instance / init_std("notebook", n_hidden, nf, 5) <= 7.9  # the 1.9-7.8x


def test_init_rejects_unknown_mode():
    with pytest.raises(ValueError, match="hierarchy.model.init"):
        BatchedTMS([2], 6, init="xavier")


def _train(model, batches, steps, lr=1e-2):
    opt = Adam(model.parameters(), lr=lr)
    for step in range(steps):
        opt.zero_grad()
        x, w = batches(step)
        model.loss(x, w).sum().backward()
        opt.step()
    return model


def test_padded_rows_stay_exactly_zero():
    depth = 3
    patterns, probs = tree_patterns(depth, "exclusive")
    weights = torch.as_tensor(pattern_counts(200, 512, probs, np.random.default_rng(0)) / 512, dtype=torch.float32)
    x = torch.as_tensor(patterns)
    model = BatchedTMS([2, 5, 9], n_features(depth), generator=torch.Generator().manual_seed(3))
    _train(model, lambda s: (x, weights[s]), 200)
    W = model.W.detach()
    assert (W[0, 2:] == 0).all() and (W[1, 5:] == 0).all()
    assert (W[2] != 0).any() and (W[0, :2] != 0).all()


def test_batched_matches_unbatched_reference():
    """Training widths together = training each width alone (same init, same data), for a few steps."""
    depth, widths, steps = 3, [2, 4, 7], 25
    nf = n_features(depth)
    rng = np.random.default_rng(5)
    data = [torch.as_tensor(sample_tree(128, depth, "exclusive", rng)) for _ in range(steps)]
    batched = BatchedTMS(widths, nf, generator=torch.Generator().manual_seed(11))
    init = batched.W.detach().clone()
    _train(batched, lambda s: (data[s], None), steps)
    for i, h in enumerate(widths):
        single = BatchedTMS([h], nf)
        with torch.no_grad():
            single.W.copy_(init[i:i + 1, :h])
        _train(single, lambda s: (data[s], None), steps)
        torch.testing.assert_close(batched.W.detach()[i, :h], single.W.detach()[0], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(batched.b.detach()[i], single.b.detach()[0], rtol=1e-4, atol=1e-6)


def test_train_depth_deterministic_and_learns():
    from featurelab.studies.hierarchy.train import train_depth

    tree = {"depths": [2], "branching_factor": 2, "sampling": "exclusive"}
    training = {"steps": 300, "batch_size": 256, "learning_rate": 0.01, "lr_schedule": "constant", "log_every": 100,
                "estimator": "patterns"}
    model = {"n_hidden": [2, 3, 6, 7], "init": "notebook", "init_instances": 5}
    a = train_depth(2, 0, tree, model, training, {"n_samples": 300}, "cpu")
    b = train_depth(2, 0, tree, model, training, {"n_samples": 300}, "cpu")
    assert a == b
    metrics = a[0]
    assert sorted(set(metrics["n_hidden"])) == [2, 3, 6]  # 7 > 6 features is skipped
    exact = [(s, h, v) for s, h, m, v in zip(metrics["step"], metrics["n_hidden"], metrics["metric"], metrics["value"])
             if m == "loss_exact"]
    first = {h: v for s, h, v in exact if s == 0}
    last = {h: v for s, h, v in exact if s == 300}
    assert all(last[h] < first[h] for h in first)
    # the samples estimator runs too (the notebook's path)
    train_depth(1, 0, tree, {**model, "n_hidden": [2]}, {**training, "steps": 5, "estimator": "samples"},
                {"n_samples": 10}, "cpu")
    # the init option is used: per_instance starts from other (larger) weights
    c = train_depth(2, 0, tree, {**model, "init": "per_instance"}, training, {"n_samples": 300}, "cpu")
    assert c[1]["value"] != a[1]["value"]


def test_train_tms_shapes():
    from featurelab.studies.hierarchy.train import train_tms

    tms = {"n_features": 6, "n_hidden": 2, "importance_decay": 0.7, "sparsities": [0.0, 0.9],
           "represented_norm": 0.5,
           "training": {"steps": 20, "batch_size": 32, "learning_rate": 0.01, "lr_schedule": "cosine",
                        "log_every": 10}}
    metrics, weights = train_tms(0, tms, "cpu")
    assert sorted(set(metrics["step"])) == [0, 10, 20]
    assert len(weights["value"]) == 2 * (2 + 1) * 6  # sparsities x (hidden rows + bias) x features
    assert train_tms(0, tms, "cpu") == (metrics, weights)


# ---------------------------------------------------------------------------------------------- claims

def _tiny_hierarchy() -> dict:
    return yaml.safe_load(TINY_CONFIG.read_text())["hierarchy"]


def _study_runs(untrained: bool = False):
    """(runs, TMS features) of the tiny config's study, trained in process; ``untrained``: one step at
    learning rate 0, i.e. the init weights (what a run that never trained would hand to the claims)."""
    import pandas as pd

    from featurelab.studies.hierarchy.analysis import tms_tables
    from featurelab.studies.hierarchy.train import train_depth, train_tms

    hi = _tiny_hierarchy()
    scale = {"learning_rate": 0.0, "steps": 1} if untrained else {}
    training = {**hi["training"], **scale}
    runs = pd.concat([pd.DataFrame(train_depth(d, s, hi["tree"], hi["model"], training, hi["evaluation"], "cpu")[0])
                      for d in hi["tree"]["depths"] for s in hi["seeds"]], ignore_index=True)
    tms = {**hi["tms"], "training": {**hi["tms"]["training"], **scale}}
    trained = [train_tms(s, tms, "cpu") for s in hi["tms"]["seeds"]]
    features, _ = tms_tables(pd.concat([pd.DataFrame(w) for _, w in trained], ignore_index=True),
                             pd.concat([pd.DataFrame(m) for m, _ in trained], ignore_index=True))
    return runs, features


def _claims(runs, features, **claims_cfg):
    from featurelab.studies.hierarchy.analysis import evaluate_claims, summarize, width_needed

    hi = _tiny_hierarchy()
    a = hi["analysis"]
    summary = summarize(runs)
    widths = width_needed(summary, a["metric"], a["statistic"], float(a["loss_threshold"]))
    return evaluate_claims(runs, summary, widths, features, {**hi["claims"], **claims_cfg}, hi["tree"], a,
                           hi["tms"]).set_index("claim")


#: The claims about trained models (the generator's claims do not depend on training).
TRAINED_CLAIMS = ["depth1_solved", "loss_nonincreasing_in_width", "width_grows_slowly",
                  "tms_dense_features_represented", "tms_sparse_features_represented"]


@pytest.fixture(scope="module")
def trained_runs():
    return _study_runs()


@pytest.fixture(scope="module")
def untrained_runs():
    return _study_runs(untrained=True)


def test_claims_of_trained_runs_have_their_preconditions(trained_runs):
    claims = _claims(*trained_runs)
    assert list(claims.index) == ["generator_marginals", "siblings_exclusive", "child_implies_parent",
                                  *TRAINED_CLAIMS]
    assert claims["precondition_met"].all(), claims[["precondition_met", "reason"]]
    for claim in TRAINED_CLAIMS[1:]:
        assert claims.loc[claim, "precondition"], f"{claim} has no precondition"
    assert (claims.loc[~claims["passed"], "reason"] != "").all()


def test_untrained_run_passes_no_claim_about_trained_models(untrained_runs):
    """An untrained run (init weights) makes every claim about trained models FAIL; those with a
    precondition fail on it, with the reason."""
    claims = _claims(*untrained_runs)
    assert not claims.loc[TRAINED_CLAIMS, "passed"].any(), claims.loc[TRAINED_CLAIMS, ["measured", "reason"]]
    for claim in TRAINED_CLAIMS:
        if claims.loc[claim, "precondition"]:
            assert not claims.loc[claim, "precondition_met"]
            assert claims.loc[claim, "reason"].startswith("precondition not met"), claims.loc[claim, "reason"]
    # the generator's claims do not depend on the runs
    assert claims.loc[["siblings_exclusive", "child_implies_parent"], "passed"].all()


def test_input_ignoring_model_would_pass_vacuously_without_the_precondition(untrained_runs):
    """The bias-only model (W = 0, b = E[x]): its losses equal the baseline at every width (so "loss does
    not increase with width" holds) and no TMS feature is represented (so "dense: at most n_hidden" holds).
    The precondition fails both; with the precondition switched off (fraction 10) both would pass."""
    from featurelab.studies.hierarchy.analysis import constant_output_loss, tms_constant_output_loss

    runs, features = untrained_runs
    runs = runs.copy()
    runs["value"] = [constant_output_loss(int(d), "exclusive") for d in runs["depth"]]
    features = features.copy()
    features["norm"] = 0.0
    features["final_loss"] = [tms_constant_output_loss(features[(features["seed"] == r.seed) & (
        features["sparsity"] == r.sparsity)].sort_values("feature")["importance"], r.sparsity)
        for r in features.itertuples()]
    claims = _claims(runs, features)
    vacuous = ["loss_nonincreasing_in_width", "tms_dense_features_represented"]
    assert not claims.loc[TRAINED_CLAIMS, "passed"].any()
    assert not claims.loc[vacuous, "precondition_met"].any()
    assert _claims(runs, features, trained_loss_fraction=10.0).loc[vacuous, "passed"].all()


def test_generator_claims_need_enough_samples():
    """With 20 samples the rarest node (4^-3) is expected 0.3 times: the z-test and the structural checks
    have nothing to test, and would pass vacuously; the preconditions fail them."""
    runs, features = _fake_tables()
    claims = _claims(runs, features, generator_samples=20)
    assert not claims.loc[["generator_marginals", "siblings_exclusive", "child_implies_parent"], "passed"].any()
    assert claims.loc["generator_marginals", "reason"].startswith("precondition not met")


def _fake_tables():
    """Minimal runs / TMS features (one depth-3 run of 2 widths, one TMS run per sparsity) for claim logic."""
    import pandas as pd

    runs = pd.DataFrame([dict(study="hierarchy", condition="depth3", depth=3, seed=0, n_features=14, n_hidden=h,
                              step=step, metric=m, value=v) for h in (2, 3)
                         for step, m, v in ((0, "loss_exact", 0.1), (10, "loss_exact", 1e-4), (10, "loss_fresh", 1e-4))])
    features = pd.DataFrame([dict(seed=0, sparsity=s, feature=f, importance=0.7 ** f, norm=1.0, interference=0.0,
                                  bias=0.0, final_loss=1e-6, initial_loss=0.1) for s in (0.0, 0.9) for f in range(8)])
    return runs, features


def _perturbed(frame, columns, rng, rel=1e-6):
    out = frame.copy()
    for c in columns:
        out[c] = out[c] * (1 + rel * rng.choice([-1.0, 1.0], len(out)))
    return out


def test_verdicts_do_not_change_with_the_last_bits(trained_runs, untrained_runs):
    """Inputs perturbed at the 1e-6 relative level (and solved losses, ~1e-15, moved by up to 1e-12
    absolute, as rounding with another thread count does) leave every verdict and precondition unchanged."""
    for runs, features in (trained_runs, untrained_runs):
        base = _claims(runs, features)
        for k in range(3):
            rng = np.random.default_rng(k)
            r = _perturbed(runs, ["value"], rng)
            r["value"] = r["value"] + rng.uniform(0, 1e-12, len(r))
            f = _perturbed(features, ["norm", "final_loss", "initial_loss", "importance"], rng)
            again = _claims(r, f)
            pd_cols = ["passed", "precondition_met", "seeds_passing"]
            assert (again[pd_cols] == base[pd_cols]).all().all(), (base[pd_cols], again[pd_cols])


# ---------------------------------------------------------------------------------------------- config

def _config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.mark.parametrize("path,value,fragment", [
    (("tree", "branching_factor"), 3, "hierarchy.tree.branching_factor"),
    (("tree", "sampling"), "random", "hierarchy.tree.sampling"),
    (("tree", "depths"), [0, 1], "hierarchy.tree.depths[0]"),
    (("tms", "sparsities"), [0.0, 1.0], "hierarchy.tms.sparsities[1]"),
    (("training", "lr_schedule"), "step", "hierarchy.training.lr_schedule"),
    (("analysis", "statistic"), "max", "hierarchy.analysis.statistic"),
    (("model", "init"), "xavier", "hierarchy.model.init"),
    (("model", "init_instances"), 0, "hierarchy.model.init_instances"),
    (("training", "typo_key"), 1, "hierarchy.training"),
])
def test_schema_rejects_bad_values(path, value, fragment):
    from featurelab.config import schema_errors

    config = _config()
    assert schema_errors(config, SCHEMA) == []
    bad = copy.deepcopy(config)
    node = bad["hierarchy"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = schema_errors(bad, SCHEMA)
    assert errors and any(fragment in e for e in errors), errors


def test_semantic_errors_name_the_key():
    from featurelab.config import semantic_errors

    bad = _config()
    bad["hierarchy"]["analysis"]["directions_depth"] = 9
    assert any("hierarchy.analysis.directions_depth" in e for e in semantic_errors(bad))
    bad = _config()
    bad["hierarchy"]["model"]["n_hidden"] = [3, 4]
    assert any("hierarchy.model.n_hidden" in e for e in semantic_errors(bad))


# ------------------------------------------------------------------------------------------ end to end

@pytest.mark.e2e
def test_workflow_tiny(tmp_path):
    import pandas as pd

    from featurelab.claims import CLAIM_COLUMNS
    from featurelab.io import read_provenance
    from featurelab.manifest import read_manifest
    from featurelab.studies.hierarchy.train import FIGURE_TABLES, METRIC_COLUMNS

    snakemake(tmp_path, "figures/hierarchy/all")
    rows = read_manifest(tmp_path / "figures/hierarchy/all")
    assert sorted(r["path"] for r in rows) == sorted(f"figures/hierarchy/{f}.{e}" for f in FIGURE_TABLES
                                                     for e in ("pdf", "png"))
    for r in rows:
        assert (tmp_path / r["path"]).stat().st_size > 1000 and r["study"] == "hierarchy"
    res = tmp_path / "results/hierarchy"
    runs = pd.read_parquet(res / "runs.parquet")
    assert tuple(runs.columns) == METRIC_COLUMNS
    assert set(runs["depth"]) == {1, 2, 3} and set(runs["seed"]) == {0, 1}
    assert set(runs["metric"]) == {"loss_exact", "loss_fresh"}
    summary = pd.read_parquet(res / "summary.parquet")
    assert {"mean", "ci_low", "ci_high", "min", "max", "n"} <= set(summary.columns)
    assert not ((summary["depth"] == 1) & (summary["n_hidden"] > 2)).any()  # n_hidden > n_features is blank
    widths = pd.read_parquet(res / "width_needed.parquet")
    assert list(widths["depth"]) == [1, 2, 3]
    feats = pd.read_parquet(res / "tms/features.parquet")
    assert {"norm", "interference", "bias", "importance", "final_loss"} <= set(feats.columns)
    claims = pd.read_parquet(res / "claims.parquet")
    assert tuple(claims.columns) == CLAIM_COLUMNS and len(claims) >= 7
    assert read_provenance(res / "summary.parquet")["config"]["tree"]["sampling"] == "exclusive"
    # a rerun has nothing to do; a changed TMS setting reruns only the TMS branch
    dry = snakemake(tmp_path, "figures/hierarchy/all", "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    tiny = yaml.safe_load(TINY_CONFIG.read_text())
    tiny["hierarchy"]["tms"]["sparsities"] = [0.0, 0.5]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(tiny))
    jobs = scheduled_rules(snakemake(tmp_path, "figures/hierarchy/all", "-n", configfile=edited).stdout)
    assert jobs.get("hierarchy_train_tms") == 2 and "hierarchy_train" not in jobs, jobs


def test_training_job_imports_stay_light():
    """The training scripts' imports pull in no pandas, matplotlib or scikit-learn (start-up cost)."""
    import subprocess
    import sys

    code = ("import sys; import featurelab.studies.hierarchy.train, featurelab.studies.hierarchy.model, featurelab.training, "
            "featurelab.optim, featurelab.devices, featurelab.io, featurelab.provenance, featurelab.scripting; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'sklearn', 'torch._dynamo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == "[]"
