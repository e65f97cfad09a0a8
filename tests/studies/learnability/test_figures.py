"""The learnability study's learning-curve figure: every task drawn once, no colour repeated in a panel,
legends off the data."""

from __future__ import annotations

import pandas as pd

from tests.helpers import study_claims_config


def _summary_of(runs: pd.DataFrame) -> pd.DataFrame:
    from featurelab.studies.learnability.analysis import summarize

    return summarize(runs)


def test_learning_curves_draw_every_task_without_repeating_colours(trained_runs):
    """Every task of every family is in exactly one panel, no colour repeats within a panel, and every
    legend lies outside every axes' data area."""
    from featurelab.plotting import apply_style
    from featurelab.studies.learnability.figures import MAX_CURVES, curve_panels, learning_curves

    summary = _summary_of(trained_runs)
    data = summary[(summary["metric"] == "log10_eval_mse") & (summary["step"] >= 0)]
    for family in data["family"].unique():
        sel = data[data["family"] == family]
        panels_, _ = curve_panels(family, sel)
        drawn = [c for p in panels_ for c, _, _ in p["curves"]]
        assert sorted(drawn) == sorted(sel["condition"].unique())
        for p in panels_:
            colours = [k for _, _, k in p["curves"]]
            assert len(colours) <= MAX_CURVES and len(set(colours)) == len(colours)
    # a grid with more values than colours (config/full.yaml: 11 scales x 7 shifts) is still drawn whole
    grid = pd.DataFrame(
        [
            dict(condition=f"scale_shift[scale={a:g},shift={b:g}]", params=f'{{"scale": {a}, "shift": {b}}}')
            for a in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20)
            for b in (0, 0.5, 1, 2, 3, 5, 10)
        ]
    )
    panels_, _ = curve_panels("scale_shift", grid)
    assert sorted(c for p in panels_ for c, _, _ in p["curves"]) == sorted(grid["condition"])
    assert all(len({k for _, _, k in p["curves"]}) == len(p["curves"]) <= MAX_CURVES for p in panels_)

    apply_style()
    fig = learning_curves(summary, study_claims_config("learnability"))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    legends = [ax.get_legend() for ax in axes if ax.get_legend()] + list(fig.legends)
    legends += [lg for sub in fig.subfigs for lg in sub.legends]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "a legend covers the data"
    import matplotlib.pyplot as plt

    plt.close(fig)
