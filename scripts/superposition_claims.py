"""Rule superposition_claims: the notebook's and the issue's claims against the measured runs."""

from featurelab.analysis.claims import claims_markdown
from featurelab.analysis.superposition_summary import evaluate_claims
from featurelab.io import read_frame, read_provenance, write_table, write_text
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input.training), read_frame(smk.input.features), smk.params.claims,
                             smk.params.importance_mass)
    upstream = read_provenance(smk.input.features)
    record = provenance({"claims": dict(smk.params.claims), "importance_mass": smk.params.importance_mass, "runs": upstream.get("config")}, rule=smk.rule)
    write_table(claims, smk.output.table, record)
    write_text(claims_markdown(claims, "superposition: claims of notebook 001 (Elhage et al. 2022 on MNIST)"),
               smk.output.text)


run(main, snakemake)  # noqa: F821
