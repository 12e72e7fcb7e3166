#!/usr/bin/env bash
# Training on a Slurm cluster.
#   [GPUS=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
# The rendezvous port is MASTER_PORT when it is set; otherwise each task
# derives it from its job's id (15000 + SLURM_JOB_ID % 15000, below Linux's
# ephemeral ports), so two jobs on one node do not both take mmengine's
# default 29500.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 PARTITION JOB_NAME CONFIG [train.py options]" >&2; exit 2; fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
# the repository on the path, as mmseg's scripts do
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# shellcheck disable=SC2086
srun --partition="$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    bash -c 'export MASTER_PORT="${MASTER_PORT:-$((15000 + SLURM_JOB_ID % 15000))}"; exec "$@"' \
    slurm_train.sh "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --launcher slurm "${@:4}"
