"""Rule hierarchy_claims: test the notebook's and the issue's claims against the measured runs."""

from featurelab.studies.hierarchy.analysis import evaluate_claims
from featurelab.io import read_frame
from featurelab.scripting import run, write_claims


def main(smk) -> None:
    p = smk.params
    claims = evaluate_claims(read_frame(smk.input.runs), read_frame(smk.input.summary),
                             read_frame(smk.input.width_needed), read_frame(smk.input.tms_features),
                             p.claims, p.tree, p.analysis, p.tms)
    write_claims(smk, claims, "hierarchy: superposition of tree-structured features (notebook 004)",
                 {"runs": smk.input.runs, "tms": smk.input.tms_features})


run(main, snakemake)  # noqa: F821
