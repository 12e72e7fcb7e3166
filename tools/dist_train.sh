#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU:
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]
# CPU processes over gloo only when asked for:
#   bash tools/dist_train.sh CONFIG NUM_PROCS --device cpu [train.py options]
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR and PORT, the same PORT on
# every node. On one node an unset PORT is a free port (torchrun --standalone),
# so that two jobs on one machine do not collide.
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 CONFIG NUM_PROCS [train.py options]" >&2; exit 2; fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# the repository on the path, as mmseg's scripts do: a checkout that was not
# installed with `pip install -e` works too
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
    --nproc "$NPROC" "${@:3}"

"$PYTHON" -m torch.distributed.run \
    "${RENDEZVOUS[@]}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
