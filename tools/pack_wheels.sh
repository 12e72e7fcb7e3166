#!/usr/bin/env bash
# Pack every wheel that tools/analysis_tools/gpu_check.py needs on a machine
# that has only Python and torch, for one Python version, into one folder:
#
#   bash tools/pack_wheels.sh PYTHON_VERSION TORCHVISION_VERSION OUT_DIR
#   bash tools/pack_wheels.sh 3.12 0.26.0 wheels-cp312   # torch 2.11
#
# The list is requirements/gpu_check.txt (each package without its own
# dependencies), torchvision matching the target's torch, and mmcv 2.1.0's
# sdist with what tools/build_mmcv.sh needs to build it there (setuptools,
# wheel, ninja). Install there without network (docs/gpu_check.md):
#
#   pip install --no-index --find-links OUT_DIR --no-deps \
#       -r requirements/gpu_check.txt torchvision==TORCHVISION_VERSION
#   PIP_NO_INDEX=1 PIP_FIND_LINKS=OUT_DIR bash tools/build_mmcv.sh
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: bash tools/pack_wheels.sh PYTHON_VERSION TORCHVISION_VERSION OUT_DIR" >&2
  exit 1
fi
PYVER=$1 TV=$2 OUT=$3
PIP=${PIP:-python3 -m pip}
here=$(cd "$(dirname "$0")/.." && pwd)
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
  -r "$here/requirements/gpu_check.txt" "torchvision==$TV" \
  "setuptools<70" wheel ninja
# pip reads the sdist's metadata with setup.py, which needs pkg_resources
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
echo "setuptools<70" > "$constraints"
PIP_CONSTRAINT=$constraints $PIP download -q --no-deps --no-binary=:all: \
  -d "$OUT" mmcv==2.1.0
du -b "$OUT"/* | sort -n | awk '{printf "%8.2f MiB  %s\n", $1 / 1048576, $2}'
du -cb "$OUT"/* | tail -1 | awk '{printf "pack_wheels: %.1f MiB in all\n", $1 / 1048576}'
