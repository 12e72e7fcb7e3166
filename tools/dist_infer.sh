#!/usr/bin/env bash
# Distributed batch inference with torchrun, one process per GPU:
#   bash tools/dist_infer.sh CONFIG CHECKPOINT INPUT NUM_PROCS --out results.json [infer.py options]
# CPU processes over gloo only when asked for (--device cpu). Each process
# segments every NUM_PROCS-th image into its own OUT.part.rank{r}.jsonl;
# rank 0 writes --out from the parts at the end. NNODES, NODE_RANK,
# MASTER_ADDR and PORT as in tools/dist_train.sh.
set -euo pipefail
if [ $# -lt 4 ]; then echo "usage: $0 CONFIG CHECKPOINT INPUT NUM_PROCS [infer.py options]" >&2; exit 2; fi
source "$(dirname "$0")/dist_launch.sh"
dist_launch "$4" infer.py "$1" "$2" "$3" "${@:5}"
