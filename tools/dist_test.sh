#!/usr/bin/env bash
# Distributed testing with torchrun, one process per GPU:
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options]
# CPU processes over gloo only when asked for (--device cpu). NNODES,
# NODE_RANK, MASTER_ADDR and PORT as in tools/dist_train.sh.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [test.py options]" >&2; exit 2; fi
source "$(dirname "$0")/dist_launch.sh"
dist_launch "$3" test.py "$1" "$2" "${@:4}"
