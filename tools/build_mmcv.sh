#!/usr/bin/env bash
# Build and install mmcv 2.1.0 with its compiled ops against the torch of
# $PYTHON.  mmcv 2.1.0 ships only as an sdist whose setup.py forces
# -std=c++17, while torch >= 2.10 headers need C++20: we switch the flag.
# CUDA ops are built when a GPU and nvcc are present (FORCE_CUDA=1).
#
#   PYTHON    interpreter of the target environment (default: python3)
#   OUT_DIR   keep the built wheel there as well (optional)
#   MAX_JOBS  parallel compile jobs (default: number of cores)
set -euo pipefail
PYTHON=${PYTHON:-python3}
MAX_JOBS=${MAX_JOBS:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m pip install -q "setuptools<70" wheel ninja
"$PYTHON" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
  -d "$work" mmcv==2.1.0
tar -xzf "$work"/mmcv-2.1.0.tar.gz -C "$work"
src="$work/mmcv-2.1.0"
grep -q -- '-std=c++17' "$src/setup.py" || { echo "build_mmcv: unexpected setup.py (no -std=c++17)" >&2; exit 1; }
sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"

if command -v nvidia-smi >/dev/null 2>&1 && command -v nvcc >/dev/null 2>&1; then
  export FORCE_CUDA=1
  echo "build_mmcv: building with CUDA ops"
fi
(cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS="$MAX_JOBS" "$PYTHON" -m pip wheel \
  --no-build-isolation --no-deps -w "$work/wheel" .)
whl=$(ls "$work"/wheel/mmcv-2.1.0-*.whl)
"$PYTHON" -m pip install -q --no-deps "$whl"

if [ -n "${OUT_DIR:-}" ]; then mkdir -p "$OUT_DIR" && cp "$whl" "$OUT_DIR"/; fi
"$PYTHON" -c "import mmcv, mmcv.ops; print('build_mmcv: mmcv', mmcv.__version__, 'with ops')"
