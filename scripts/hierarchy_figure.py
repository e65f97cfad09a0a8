"""Rule hierarchy_figure: draw one figure of the hierarchy study from its aggregated tables."""

from featurelab.io import read_frame
from featurelab.studies.hierarchy.figures import FIGURES
from featurelab.plotting import apply_style, save_figure
from featurelab.scripting import run


def main(smk) -> None:
    apply_style()
    tables = {name: read_frame(path) for name, path in smk.input.items()}
    fig = FIGURES[smk.wildcards.figure](tables, smk.params.analysis)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])


run(main, snakemake)  # noqa: F821
