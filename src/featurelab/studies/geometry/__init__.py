"""The geometry study: feature dimensionality in uniform superposition (Elhage et al. 2022, "Toy Models of
Superposition", section "The Geometry of Superposition" -> "Feature Dimensionality").

Paper setting: n = 400 features, m = 30 hidden dimensions, every feature with importance 1 and the same
sparsity S (each feature is U[0, 1] with probability 1 - S, else 0, independently), the ReLU output model
x' = ReLU(W^T W x + b) with W of shape (m, n), trained with importance-weighted squared error. A sweep over S
(log-spaced in 1/(1-S)) is ONE batched model whose leading "instance" dimension is the sparsity, like the TMS
colab's ``n_instances``: one training job per seed trains every sparsity at once (:mod:`.train`).

Measured per instance (:mod:`.analysis`): each feature's dimensionality D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2
(W_i = feature i's column; 1 for a feature with a dimension of its own, 1/2 for each of an antipodal pair, k/n
for n features sharing k dimensions as a regular polytope) and the dimensions per feature m / ||W||_F^2. The
paper's finding: dimensions per feature fall as sparsity rises, and the D_i cluster at "sticky" fractions
(3/4 tetrahedron, 2/3 triangle, 1/2 digon, 2/5 pentagon, 3/8 square antiprism). :mod:`.claims` tests both;
:mod:`.figures` draws them.

Modules: ``train`` (torch; no pandas or matplotlib, for a fast job start), ``analysis`` (NumPy/pandas),
``claims`` (pandas), ``figures`` (matplotlib, imported inside ``draw``). This module imports nothing heavy:
the workflow imports it while building the DAG.
"""

from __future__ import annotations

from fractions import Fraction

STUDY = "geometry"

#: The paper's names of the sticky fractions (its feature-dimensionality figure); other fractions are
#: allowed in the config and are labelled by their value only.
FRACTION_NAMES: dict[Fraction, str] = {
    Fraction(1): "a dimension of its own",
    Fraction(3, 4): "tetrahedron",
    Fraction(2, 3): "triangle",
    Fraction(1, 2): "digon: antipodal pair",
    Fraction(2, 5): "pentagon",
    Fraction(3, 8): "square antiprism",
}


def parse_fraction(text: str) -> Fraction:
    """``"3/8"`` -> Fraction(3, 8); ``"1"`` -> Fraction(1). Raises ValueError on anything else."""
    return Fraction(str(text).strip())


def fraction_label(text: str) -> str:
    """``"2/5"`` -> ``"2/5 (pentagon)"`` (the paper's name where it gives one)."""
    name = FRACTION_NAMES.get(parse_fraction(text))
    return f"{text} ({name})" if name else str(text)


def config_errors(config: dict) -> list[str]:
    """Checks of the ``geometry`` section that its schema cannot express, one message per problem, each
    naming the key. ``config`` is the whole (validated) config; an absent section has no errors."""
    ge = config.get("geometry")
    if not ge:
        return []
    errors: list[str] = []
    model, sweep, training, claims = ge["model"], ge["sweep"], ge["training"], ge["claims"]
    if model["n_hidden"] >= model["n_features"]:
        errors.append(
            f"config key 'geometry.model.n_hidden': {model['n_hidden']} must be below geometry.model."
            f"n_features = {model['n_features']} (superposition needs more features than dimensions)"
        )
    if sweep.get("inverse_densities"):
        listed = [float(v) for v in sweep["inverse_densities"]]
        if any(b <= a for a, b in zip(listed, listed[1:])):
            errors.append(
                f"config key 'geometry.sweep.inverse_densities': {listed} must increase (one instance per value)"
            )
    if sweep["inverse_density_max"] < sweep["inverse_density_min"]:
        errors.append(
            f"config key 'geometry.sweep.inverse_density_max': {sweep['inverse_density_max']} is below "
            f"geometry.sweep.inverse_density_min = {sweep['inverse_density_min']}"
        )
    if training["log_every"] > training["steps"]:
        errors.append(
            f"config key 'geometry.training.log_every': {training['log_every']} exceeds "
            f"geometry.training.steps = {training['steps']}"
        )
    values = []
    for k, text in enumerate(ge["analysis"]["fractions"]):
        try:
            value = parse_fraction(text)
        except (ValueError, ZeroDivisionError):
            errors.append(f"config key 'geometry.analysis.fractions[{k}]': {text!r} is not a fraction like 3/8")
            continue
        if not 0 < value <= 1:
            errors.append(
                f"config key 'geometry.analysis.fractions[{k}]': {text!r} must lie in (0, 1] "
                "(a feature's dimensionality D_i does)"
            )
        values.append(value)
    if len(set(values)) < len(values):
        errors.append(
            f"config key 'geometry.analysis.fractions': {list(ge['analysis']['fractions'])} lists a fraction twice"
        )
    gaps = sorted(float(b - a) for a, b in zip(sorted(set(values)), sorted(set(values))[1:]))
    if gaps and claims["tolerance"] >= gaps[0] / 2:
        errors.append(
            f"config key 'geometry.claims.tolerance': {claims['tolerance']} must be below half the "
            f"smallest gap between geometry.analysis.fractions ({gaps[0] / 2:.4g}), so that no feature "
            "counts for two fractions"
        )
    if claims["pileup_window"] <= claims["tolerance"]:
        errors.append(
            f"config key 'geometry.claims.pileup_window': {claims['pileup_window']} must exceed "
            f"geometry.claims.tolerance = {claims['tolerance']} (the local range holds the window)"
        )
    return errors
