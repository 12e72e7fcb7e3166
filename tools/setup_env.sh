#!/usr/bin/env bash
# Create (or complete) the project's virtual environment.  Idempotent: each
# step is skipped when what it installs is already there.
#
#   VENV        where the environment lives            (default: .venv)
#   PYTHON      interpreter used to create it          (default: python3)
#   WHEELHOUSE  folder holding a prebuilt mmcv 2.1.0 wheel (optional); without
#               one, mmcv is built from the PyPI sdist by tools/build_mmcv.sh
#   TORCH_SPEC  torch requirement; empty keeps whatever torch the venv has
set -euo pipefail
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
WHEELHOUSE=${WHEELHOUSE:-}
TORCH_SPEC=${TORCH_SPEC-torch==2.14.1 torchvision==0.29.1}
cd "$(dirname "$0")/.."

log() { echo "[setup] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)

if [ -n "$TORCH_SPEC" ]; then
  log "torch: $TORCH_SPEC"
  # shellcheck disable=SC2086
  "${PIP[@]}" install $TORCH_SPEC
fi

FIND_LINKS=()
if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  log "mmcv 2.1.0 with ops already installed"
elif [ -n "$WHEELHOUSE" ] && ls "$WHEELHOUSE"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  log "mmcv 2.1.0 from wheelhouse $WHEELHOUSE"
  FIND_LINKS=(--find-links "$WHEELHOUSE")
else
  [ -n "$WHEELHOUSE" ] && log "no mmcv-2.1.0 wheel in $WHEELHOUSE"
  log "building mmcv 2.1.0 from source (about 20 minutes on 2 cores)"
  PYTHON="$PY" bash tools/build_mmcv.sh
fi

log "installing RISAM (editable) with test extras"
"${PIP[@]}" install "${FIND_LINKS[@]}" -e ".[tests]"
"$PY" -c "import projects.risam, mmcv.ops; print('[setup] ok: projects.risam', projects.risam.__version__)"
