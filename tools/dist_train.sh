#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU:
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]
# CPU processes over gloo only when asked for:
#   bash tools/dist_train.sh CONFIG NUM_PROCS --device cpu [train.py options]
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR and the same PORT on every
# node; on one node an unset PORT is a free one (see tools/dist_launch.sh).
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 CONFIG NUM_PROCS [train.py options]" >&2; exit 2; fi
source "$(dirname "$0")/dist_launch.sh"
dist_launch "$2" train.py "$1" "${@:3}"
