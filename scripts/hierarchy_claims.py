"""Rule hierarchy_claims: test the notebook's and the issue's claims against the measured runs."""

from featurelab.analysis.claims import claims_markdown
from featurelab.analysis.hierarchy import evaluate_claims
from featurelab.io import read_frame, read_provenance, write_table, write_text
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    p = smk.params
    claims = evaluate_claims(read_frame(smk.input.runs), read_frame(smk.input.summary),
                             read_frame(smk.input.width_needed), read_frame(smk.input.tms_features),
                             p.claims, p.tree, p.analysis, p.tms)
    record = provenance({"claims": dict(p.claims), "runs": read_provenance(smk.input.runs).get("config"),
                         "tms": read_provenance(smk.input.tms_features).get("config")}, rule=smk.rule)
    write_table(claims, smk.output.table, record)
    write_text(claims_markdown(claims, "hierarchy: superposition of tree-structured features (notebook 004)"),
               smk.output.text)


run(main, snakemake)  # noqa: F821
