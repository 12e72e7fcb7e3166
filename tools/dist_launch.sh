# Sourced by tools/dist_train.sh and tools/dist_test.sh.
#
# dist_launch NPROC TOOL [TOOL ARGUMENTS]: run tools/TOOL as NPROC processes
# on this node with torchrun (--launcher pytorch).
# - The repository goes on PYTHONPATH, as mmseg's scripts do: a checkout that
#   was not installed with `pip install -e` works too.
# - One node (NNODES=1, the default) with PORT unset: torchrun's standalone
#   rendezvous takes a free port, so two jobs on one machine do not collide.
#   Several nodes: NNODES, NODE_RANK, MASTER_ADDR and the same PORT (default
#   29500) on every node. NNODES > 1 without MASTER_ADDR or NODE_RANK stops
#   here in one line: a default (127.0.0.1, rank 0) would leave the other
#   nodes waiting until the rendezvous times out.
# - Without a CUDA device per process and without --device cpu the run ends
#   here, in one line (not one per process and torchrun's failure report).
dist_launch() {
    local nproc=$1 tool=$2
    shift 2
    local root python=${PYTHON:-python} nnodes=${NNODES:-1}
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
    local rendezvous=(--standalone)
    if [ "$nnodes" != 1 ]; then
        local missing=()
        [ -n "${MASTER_ADDR:-}" ] || missing+=(MASTER_ADDR)
        [ -n "${NODE_RANK:-}" ] || missing+=(NODE_RANK)
        if [ ${#missing[@]} -gt 0 ]; then
            echo "$(basename "$0"): error: NNODES=$nnodes needs ${missing[*]} set on every node" \
                "(MASTER_ADDR: the address of node 0, NODE_RANK: 0..$((nnodes - 1)))" >&2
            return 2
        fi
    fi
    if [ "$nnodes" != 1 ] || [ -n "${PORT:-}" ]; then
        rendezvous=(--nnodes="$nnodes" --node_rank="${NODE_RANK:-0}"
                    --master_addr="${MASTER_ADDR:-127.0.0.1}"
                    --master_port="${PORT:-29500}")
    fi
    "$python" "$root/projects/risam/utils/launch.py" \
        --prog "$(basename "$0")" --nproc "$nproc" "$@" || return 1
    "$python" -m torch.distributed.run "${rendezvous[@]}" \
        --nproc_per_node="$nproc" "$root/tools/$tool" "$@" --launcher pytorch
}
