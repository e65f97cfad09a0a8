"""Rule complexity_dataset: write the three binary-feature splits of one (pair, seed)."""

from featurelab.io import save_arrays
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.studies.complexity.train import make_splits, parse_pair


def main(smk) -> None:
    pair, seed = parse_pair(smk.wildcards.pair), int(smk.wildcards.seed)
    arrays = make_splits(pair, seed, smk.params.dataset)
    config = {"dataset": dict(smk.params.dataset), "pair": pair, "seed": seed}
    save_arrays(smk.output[0], provenance(config, rule=smk.rule), **arrays)


run(main, snakemake)  # noqa: F821 (injected by Snakemake)
