#!/usr/bin/env bash
# Pack every wheel that tools/analysis_tools/gpu_check.py needs on a machine
# that has only Python and torch, for one Python version, into one folder:
#
#   bash tools/pack_wheels.sh PYTHON_VERSION TORCHVISION_VERSION OUT_DIR
#   bash tools/pack_wheels.sh 3.12 0.26.0 wheels-cp312   # torch 2.11
#
# The list is requirements/gpu_check.txt (each package without its own
# dependencies) and torchvision matching the target's torch: all wheels,
# nothing to build (the check trains the model core, which needs neither
# mmseg nor mmcv's compiled ops). Install there, without network
# (docs/gpu_check.md):
#
#   bash tools/pack_wheels.sh --install OUT_DIR
#
# which installs from OUT_DIR only the packages of the list (and
# torchvision) that the machine does not have, each with --no-deps: a
# preinstalled torch or torchvision, or any package already there, is left
# as it is (PYTHON picks the interpreter, default python3).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --install ]; then
  if [ $# -ne 2 ]; then
    echo "usage: bash tools/pack_wheels.sh --install WHEEL_DIR" >&2
    exit 1
  fi
  PY=${PYTHON:-python3}
  PIP=${PIP:-$PY -m pip}
  torch_version="from importlib.metadata import version; print(version('torch'))"
  if ! torch_before=$($PY -c "$torch_version" 2>/dev/null); then
    echo "pack_wheels: $PY has no torch: install the machine's torch first" >&2
    exit 1
  fi
  # the requirements (and torchvision) with no installed distribution
  missing=$($PY - "$here/requirements/gpu_check.txt" <<'PYEOF'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

lines = [ln.split('#')[0].strip() for ln in open(sys.argv[1])]
for req in [ln for ln in lines if ln] + ['torchvision']:
    try:
        version(re.split(r'[=<>!~;\[ ]', req)[0])
    except PackageNotFoundError:
        print(req)
PYEOF
)
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    $PIP install --no-index --find-links "$2" --no-deps $missing
  fi
  torch_after=$($PY -c "$torch_version")
  if [ "$torch_after" != "$torch_before" ]; then
    echo "pack_wheels: torch changed from $torch_before to $torch_after" >&2
    exit 1
  fi
  echo "pack_wheels: installed: ${missing:-nothing}" | tr '\n' ' '
  echo "(torch $torch_after kept)"
  exit 0
fi
if [ $# -ne 3 ]; then
  echo "usage: bash tools/pack_wheels.sh PYTHON_VERSION TORCHVISION_VERSION OUT_DIR" >&2
  echo "       bash tools/pack_wheels.sh --install OUT_DIR" >&2
  exit 1
fi
PYVER=$1 TV=$2 OUT=$3
PIP=${PIP:-python3 -m pip}
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
  echo "pack_wheels: $OUT exists and is not empty" >&2
  exit 1
fi
mkdir -p "$OUT"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
$PIP download -q --no-deps --only-binary=:all: --implementation cp \
  --python-version "$PYVER" "${platforms[@]}" -d "$OUT" \
  -r "$here/requirements/gpu_check.txt" "torchvision==$TV"
du -b "$OUT"/* | sort -n | awk '{printf "%8.2f MiB  %s\n", $1 / 1048576, $2}'
du -cb "$OUT"/* | tail -1 | awk '{printf "pack_wheels: %.1f MiB in all\n", $1 / 1048576}'
# what travels to the machine: the pack and the repository's tracked files
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  repo=$(git -C "$here" ls-files -z | (cd "$here" && xargs -0 du -cb) | \
         awk '$2 == "total" {s += $1} END {print s}')
  pack=$(du -cb "$OUT"/* | tail -1 | cut -f1)
  awk -v r="$repo" -v p="$pack" 'BEGIN {printf "pack_wheels: %.1f MiB with the repository (%.1f MiB)\n", (r + p) / 1048576, r / 1048576}'
fi
