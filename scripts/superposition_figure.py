"""Rule superposition_figure: draw one figure of the superposition study from the aggregated tables."""

from featurelab.io import read_frame
from featurelab.plotting import apply_style, save_figure
from featurelab.studies.superposition.figures import FIGURES
from featurelab.scripting import run


def main(smk) -> None:
    apply_style()
    tables = {name: read_frame(path) for name, path in smk.input.items()}
    fig = FIGURES[smk.wildcards.figure](tables)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])


run(main, snakemake)  # noqa: F821
