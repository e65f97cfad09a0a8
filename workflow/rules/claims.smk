"""The claims figure of every study: its claims table drawn as a forest plot, each claim's estimate and
one-sided 95 % bounds against its threshold, coloured by verdict."""


rule claims_figure:
    """Forest plot of a study's claims (PDF + PNG), the figure a reader looks at first."""
    input:
        claims="results/{study}/claims.parquet",
    output:
        pdf="figures/{study}/claims.pdf",
        png=report(
            "figures/{study}/claims.png",
            caption="../report/claims_figure.rst",
            category="{study}",
            labels={"figure": "claims (forest plot)"},
        ),
    log:
        f"{LOGS}/{{study}}/claims_figure.log",
    wildcard_constraints:
        study=one_of(config["studies"]),
    group:
        "{study}_summary"
    conda:
        CONDA_ENV
    params:
        code=code_hash("scripts/claims_figure.py"),
        figures=config["figures"],
    script:
        "../../scripts/claims_figure.py"
