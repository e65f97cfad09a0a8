"""Rule learnability_claims: each comment of notebook 002 as a measured, judged claim."""

from featurelab.analysis.claims import claims_markdown
from featurelab.analysis.learnability import evaluate_claims
from featurelab.io import read_frame, read_provenance, write_table, write_text
from featurelab.provenance import provenance
from featurelab.scripting import run


def main(smk) -> None:
    claims = evaluate_claims(read_frame(smk.input[0]), smk.params.claims, float(smk.params.loss_threshold))
    upstream = read_provenance(smk.input[0])
    record = provenance({"claims": dict(smk.params.claims), "loss_threshold": smk.params.loss_threshold,
                         "runs": upstream.get("config")}, rule=smk.rule)
    write_table(claims, smk.output.table, record)
    write_text(claims_markdown(claims, "learnability: the comments of notebook 002, measured"), smk.output.text)


run(main, snakemake)  # noqa: F821
