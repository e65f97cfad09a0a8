"""Rule dissociation_figure: draw one figure of the dissociation study from the aggregated table."""

from featurelab.io import read_frame, read_provenance
from featurelab.studies.dissociation.figures import FIGURES
from featurelab.plotting import apply_style, save_figure
from featurelab.scripting import run


def main(smk) -> None:
    apply_style()
    figure = smk.wildcards.figure
    # the transfer panel names the probe that made it (recorded in the summary's provenance)
    extra = {}
    if figure == "transfer":
        extra["probe"] = read_provenance(smk.input[0]).get("config", {}).get("transfer_probe")
    fig = FIGURES[figure](read_frame(smk.input[0]), band_kind=smk.params.band, **extra)
    save_figure(fig, smk.output.pdf, smk.output.png, dpi=smk.params.figures["dpi"])


run(main, snakemake)  # noqa: F821
