#!/usr/bin/env bash
# The GPU path, measured on a lent GPU machine in one call:
#
#     bash benchmarks/gpu_check.sh OUT_DIR [DEVICES]        # DEVICES: "cuda cpu" (default), or "cpu" here
#
# For each phase (PHASES, default "tiny default": the tiny test config, then the default config) and each
# device it runs `figures/all` from an empty working directory with `--config=device=<device>` and all cores,
# and writes into OUT_DIR:
#   times.tsv                  phase, device, wall seconds, exit status, jobs done
#   <phase>-<device>/jobs.tsv  per job: rule, wildcards, GPU declared (resources gpu=1), device used (the
#                              job's own log line "... on cuda"), CPU-s and wall s from the job's log
#   <phase>-<device>/          snakemake.log, the jobs' logs and benchmark files
#   slower_on_gpu.tsv          the rules whose median job wall time on cuda exceeds that on cpu
#   environment.txt            nvidia-smi, python, torch and CUDA as the jobs see them
# Nothing here needs a GPU: `bash benchmarks/gpu_check.sh /tmp/gpu-check cpu` runs the same on a CPU.
#
# The GPU machine has python3 with torch, numpy, pandas, pyarrow, matplotlib, seaborn, scikit-learn and
# pyyaml, and no network: Snakemake, mlxtend, jsonschema and their dependencies travel as wheels in .whl/
# (made here by `bash benchmarks/gpu_wheels.sh`) and are installed into a temporary folder first.
set -uo pipefail

OUT=${1:?usage: bash benchmarks/gpu_check.sh OUT_DIR [DEVICES]}
DEVICES=${2:-cuda cpu}
PHASES=${PHASES:-tiny default}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if ! "$PY" -c "import snakemake, mlxtend, jsonschema" 2>/dev/null; then
    [ -d "$REPO/.whl" ] || { echo "gpu_check: Snakemake is missing and there is no .whl/ (bash benchmarks/gpu_wheels.sh)" >&2; exit 2; }
    SITE=$(mktemp -d)/site
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$REPO"/.whl/*.whl || exit 2
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
# the snakemake command the jobs inherit through PATH (Snakemake starts jobs' scripts with this Python)
export PATH="$(dirname "$(command -v "$PY")"):$PATH"

{
    nvidia-smi 2>&1 || echo "no nvidia-smi"
    "$PY" -c "import sys, torch; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
    "$PY" -m snakemake --version
    nproc
} > "$OUT/environment.txt" 2>&1

# The report's interactive pages need altair + vl-convert (34 MB of wheels, past what a device call carries):
# where they are missing, those pages and what waits for them (the manifests) are left out.
omit=()
if ! "$PY" -c "import altair, vl_convert" 2>/dev/null; then
    omit=(--omit-from report_vega_bundle)
    echo "altair/vl-convert missing: the interactive pages and the manifests are left out" >> "$OUT/environment.txt"
fi

printf 'phase\tdevice\twall_s\trc\tjobs\n' > "$OUT/times.tsv"
for phase in $PHASES; do
    case $phase in
        tiny) extra=("--configfile=$REPO/tests/configs/tiny.yaml") ;;
        default) extra=() ;;
        *) echo "gpu_check: unknown phase '$phase' (tiny, default)" >&2; exit 2 ;;
    esac
    for device in $DEVICES; do
        work=$(mktemp -d)
        dest="$OUT/$phase-$device"
        mkdir -p "$dest"
        start=$EPOCHREALTIME
        "$PY" -m snakemake -s "$REPO/Snakefile" -d "$work" --cores "$(nproc)" figures/all --benchmark-extended \
            "${extra[@]}" "${omit[@]}" "--config=device=$device" > "$dest/snakemake.log" 2>&1
        rc=$?
        wall=$(awk "BEGIN { print $EPOCHREALTIME - $start }")
        jobs=$(grep -oE '[0-9]+ of [0-9]+ steps \(100%\) done' "$dest/snakemake.log" | tail -1 | cut -d' ' -f1)
        printf '%s\t%s\t%.1f\t%s\t%s\n' "$phase" "$device" "$wall" "$rc" "${jobs:-0}" >> "$OUT/times.tsv"
        cp -r "$work/results/logs" "$dest/logs" 2>/dev/null
        cp -r "$work/results/benchmarks" "$dest/benchmarks" 2>/dev/null
        "$PY" "$REPO/benchmarks/gpu_jobs.py" "$dest" > "$dest/jobs.tsv"
        rm -rf "$work"
    done
done
"$PY" "$REPO/benchmarks/gpu_jobs.py" --compare "$OUT" > "$OUT/slower_on_gpu.tsv"
cat "$OUT/times.tsv"
