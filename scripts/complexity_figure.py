"""Rule complexity_figure: draw one figure of the complexity study from the aggregated tables."""

from featurelab.io import read_frame
from featurelab.studies.complexity.figures import FIGURES
from featurelab.plotting import apply_style, save_figure
from featurelab.scripting import run


def main(smk) -> None:
    apply_style()
    fig = FIGURES[smk.wildcards.figure](read_frame(smk.input.summary), read_frame(smk.input.runs))
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])


run(main, snakemake)  # noqa: F821
