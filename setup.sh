#!/usr/bin/env bash
# Creates .venv with every dependency at the exact version in requirements.lock (torch==2.13.0 among
# them) and featurelab installed in editable mode. Needs only python3 (>= 3.11) and pip's registries.
# Idempotent: re-running it does nothing unless pyproject.toml or requirements.lock changed.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
stamp=.venv/.featurelab-installed
if [[ -f $stamp && $stamp -nt requirements.lock && $stamp -nt pyproject.toml ]]; then
  exit 0
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
touch "$stamp"
