#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.sh needs on a GPU machine without network, into .whl/ (git-ignored):
#
#     bash benchmarks/gpu_wheels.sh [PYTHON_VERSION]      # default 3.12, the GPU machine's python3
#
# Snakemake (and its SLURM plugin), mlxtend and jsonschema with every dependency of theirs the GPU image lacks (it has torch,
# numpy, pandas, pyarrow, matplotlib, seaborn, scikit-learn, scipy, pyyaml and the common pure-Python
# libraries), each at the version requirements.lock pins, as binary wheels for CPython on manylinux x86-64.
# Not altair and vl-convert-python (the report's interactive pages; 34 MB, past what one device call
# carries): gpu_check.sh leaves those pages out where they are missing.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYVER=${1:-3.12}
cd "$REPO"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
# The requirement closure of the three, from the installed metadata, minus what the GPU image holds.
names=$(.venv/bin/python - <<'EOF'
import re
from importlib.metadata import distribution, PackageNotFoundError

PRESENT = set("""torch numpy pandas pyarrow matplotlib seaborn scikit-learn scipy pyyaml jinja2 markupsafe packaging
psutil requests urllib3 idna certifi charset-normalizer wrapt tabulate pillow python-dateutil six pytz tzdata
attrs typing-extensions joblib threadpoolctl contourpy cycler fonttools kiwisolver pyparsing platformdirs
filelock fsspec networkx sympy mpmath setuptools""".split())

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

todo, seen = ["snakemake", "mlxtend", "jsonschema", "snakemake-executor-plugin-slurm"], {}
while todo:
    name = norm(todo.pop())
    if name in seen or name in PRESENT:
        continue
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        continue
    seen[name] = dist.version
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
print(" ".join(f"{n}=={v}" for n, v in sorted(seen.items())))
EOF
)
platforms=()
for n in 17 24 27 28 31 34; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
for spec in $names; do
    # a binary wheel for the GPU machine's Python; a package published only as source (pure Python, e.g.
    # connection-pool) is built into a wheel here
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
        "${platforms[@]}" --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$spec" 2>/dev/null \
        || .venv/bin/python -m pip wheel -q --no-deps -w .whl "$spec"
done
ls .whl | wc -l
du -sh .whl
