"""Rule dissociation_claims: test the paper's claims against the measured runs."""

from featurelab.analysis.claims import claims_markdown
from featurelab.analysis.dissociation_summary import evaluate_claims
from featurelab.io import read_frame, read_provenance, write_table, write_text
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims)
    upstream = read_provenance(smk.input[0])
    record = provenance({"claims": dict(smk.params.claims), "runs": upstream.get("config")}, rule=smk.rule)
    write_table(claims, smk.output.table, record)
    write_text(claims_markdown(claims, "dissociation: claims of Braun, Grant & Saxe (ICML 2025)"), smk.output.text)


run(main, snakemake)  # noqa: F821
