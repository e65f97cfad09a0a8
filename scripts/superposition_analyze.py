"""Rule superposition_analyze: importance, 2-D directions, ||W_i||, bias, interference, dimensionality and
W_dec W_enc of one seed at every recorded autoencoder epoch (NumPy + pyarrow only)."""

import json

import numpy as np

from featurelab.studies.superposition.analysis import analyze_run
from featurelab.io import load_arrays, table_from_columns, write_table
from featurelab.provenance import provenance
from featurelab.scripting import run
from featurelab.seeding import numpy_rng
from featurelab.studies.superposition.train import STUDY


def main(smk) -> None:
    cfg = smk.params.analysis
    seed = int(smk.wildcards.seed)
    h = load_arrays(smk.input.hidden)[f"h_{cfg['split']}"]
    if cfg["max_examples"] and cfg["max_examples"] < h.shape[0]:  # the same images for every seed
        h = h[np.sort(numpy_rng(STUDY, "analysis", cfg["split"]).permutation(h.shape[0])[:cfg["max_examples"]])]
    snaps = load_arrays(smk.input.snapshots)
    # the script stores one instance: add the instance axis back for analyze_run
    snaps = {k: (v if k == "epochs" else v[None]) for k, v in snaps.items()}
    feats, wtw = analyze_run(STUDY, seed, h, snaps, 0, float(cfg["importance_mass"]))
    with np.load(smk.input.snapshots) as f:
        upstream = json.loads(str(f["_provenance"]))
    record = provenance({"analysis": dict(cfg), "seed": seed, "autoencoder": upstream.get("config")}, rule=smk.rule)
    write_table(table_from_columns(feats), smk.output.features, record)
    write_table(table_from_columns(wtw), smk.output.wtw, record)


run(main, snakemake)  # noqa: F821
