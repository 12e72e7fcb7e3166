#!/usr/bin/env bash
# The embedded demos (`make demo`, `make demo-generalized`): generate RefShapes
# if absent, train the tiny RISAM on CPU, test it on val/testA/testB, run the
# language-blind control, and draw the training curves and a grid of
# predictions.
#
#   PYTHON     interpreter with the project installed   (default: python)
#   CONFIG     demo config      (default: the tiny RefShapes config)
#   DATA       RefShapes folder (default: data/refshapes)
#   WORK_DIR   outputs          (default: work_dirs/demo)
#   DATA_ARGS  extra make_refshapes.py options, e.g. --generalized
#              (default: none)
# The tools refuse to replace an existing --out file; this script owns the files
# it writes under WORK_DIR and passes --overwrite, so a re-run still completes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
CONFIG=${CONFIG:-configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py}
DATA=${DATA:-data/refshapes}
WORK_DIR=${WORK_DIR:-work_dirs/demo}
read -r -a DATA_OPTS <<< "${DATA_ARGS:-}"
step() { echo; echo "==> $*"; }
elapsed() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }
START=$SECONDS

if [ ! -f "$DATA/instances.json" ]; then
  step "generating RefShapes in $DATA"
  "$PYTHON" tools/dataset_converters/make_refshapes.py "$DATA" --seed 0 "${DATA_OPTS[@]}"
else
  step "RefShapes found in $DATA"
fi
OPTS=(train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA"
      test_dataloader.dataset.data_root="$DATA")

step "training $(basename "$CONFIG") (progress and ETA in the log lines)"
RESUME=()
# a re-run continues the existing run (or finds it finished); it never restarts
[ -f "$WORK_DIR/last_checkpoint" ] && RESUME=(--resume)
TRAIN_START=$SECONDS
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "${RESUME[@]}" --cfg-options "${OPTS[@]}"
TRAIN_TIME=$((SECONDS - TRAIN_START))
echo "training took $(elapsed $TRAIN_TIME)"
CKPT=$(cat "$WORK_DIR/last_checkpoint")

step "testing $CKPT on val, testA, testB"
"$PYTHON" tools/test.py "$CONFIG" "$CKPT" --splits val testA testB \
  --work-dir "$WORK_DIR/test" --out "$WORK_DIR/metrics.json" --overwrite --cfg-options "${OPTS[@]}"

step "language-blind control: every sentence replaced by ''"
"$PYTHON" tools/test.py "$CONFIG" "$CKPT" --splits val --override-text '' \
  --work-dir "$WORK_DIR/test_blind" --out "$WORK_DIR/metrics_language_blind.json" \
  --overwrite --cfg-options "${OPTS[@]}"

step "pictures"
"$PYTHON" tools/analysis_tools/plot_training.py "$WORK_DIR" --out "$WORK_DIR/training_curves.png" --overwrite
"$PYTHON" tools/analysis_tools/prediction_grid.py "$CONFIG" "$CKPT" \
  --out "$WORK_DIR/predictions.png" --overwrite --cfg-options "${OPTS[@]}"

step "done: $WORK_DIR/{metrics.json,metrics_language_blind.json,training_curves.png,predictions.png}"
echo "training $(elapsed $TRAIN_TIME), whole demo $(elapsed $((SECONDS - START)))"
echo
echo "Try the model on your own images in the browser (http://127.0.0.1:7860):"
echo "  $PYTHON tools/web_demo.py $CONFIG $CKPT"
