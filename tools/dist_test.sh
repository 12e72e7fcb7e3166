#!/usr/bin/env bash
# Distributed testing with torchrun, one process per GPU:
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options]
# CPU processes over gloo only when asked for (--device cpu). NNODES,
# NODE_RANK, MASTER_ADDR and PORT as in tools/dist_train.sh.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [test.py options]" >&2; exit 2; fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ "$NNODES" = 1 ] && [ -z "${PORT:-}" ]; then
    # one node, no PORT: torchrun's standalone rendezvous takes a free port
    RENDEZVOUS=(--standalone)
else
    RENDEZVOUS=(--nnodes="$NNODES" --node_rank="$NODE_RANK"
                --master_addr="$MASTER_ADDR" --master_port="${PORT:-29500}")
fi
# a run that cannot start ends here in one line (no CUDA and no --device cpu)
"$PYTHON" "$ROOT/projects/risam/utils/launch.py" --prog "$(basename "$0")" \
    --nproc "$NPROC" "${@:4}"

"$PYTHON" -m torch.distributed.run \
    "${RENDEZVOUS[@]}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
