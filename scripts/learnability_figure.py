"""Rule learnability_figure: draw one figure of the learnability study from the aggregated table."""

from featurelab.io import read_frame
from featurelab.studies.learnability.figures import draw
from featurelab.plotting import apply_style, save_figure
from featurelab.scripting import run


def main(smk) -> None:
    apply_style()
    fig = draw(smk.wildcards.figure, read_frame(smk.input[0]), smk.params.claims)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])


run(main, snakemake)  # noqa: F821
