#!/usr/bin/env bash
# SuperSVG training launcher: the `train` service of compose.yaml and the cloud hosts run it.
#
# Volume contract (container paths):
#   /data                     dataset root (supersvg datasets download NAME /data)
#   /workspace/checkpoints    one run folder per RUN_NAME: last.pt, metrics.csv, previews/
#   /workspace/logs           RUN_NAME.log, the trainer's output (appended across restarts)
#   /workspace/output         RUN_NAME/*.svg: SAMPLES dataset images vectorized with the model
#
# Environment overrides (defaults in brackets): DATASET [test], RUN_NAME [supersvg],
# EPOCHS [100], BATCH_SIZE [32], LR [0.001], STAGE [coarse], MODEL_CONFIG [paper],
# DEVICE [auto], SAMPLES [4], TRAIN_ARGS [] (more `supersvg train` options, split on
# spaces), SAMPLE_ARGS [] (more `supersvg vectorize` options for the samples), DATA_DIR
# [/data], WORKSPACE [/workspace], SUPERSVG [supersvg] (the command).
# A run resumes from its last.pt, so re-running after a stop or a lost machine continues.
# Exit codes: the trainer's; 2 when the dataset folder is missing.
set -euo pipefail

DATA_DIR="${DATA_DIR:-/data}"
WORKSPACE="${WORKSPACE:-/workspace}"
DATASET="${DATASET:-test}"
RUN_NAME="${RUN_NAME:-supersvg}"
EPOCHS="${EPOCHS:-100}"
BATCH_SIZE="${BATCH_SIZE:-32}"
LR="${LR:-0.001}"
STAGE="${STAGE:-coarse}"
MODEL_CONFIG="${MODEL_CONFIG:-paper}"
DEVICE="${DEVICE:-auto}"
SAMPLES="${SAMPLES:-4}"
TRAIN_ARGS="${TRAIN_ARGS:-}"
SAMPLE_ARGS="${SAMPLE_ARGS:-}"
SUPERSVG="${SUPERSVG:-supersvg}"

data="$DATA_DIR/$DATASET"
run="$WORKSPACE/checkpoints/$RUN_NAME"
log="$WORKSPACE/logs/$RUN_NAME.log"
out="$WORKSPACE/output/$RUN_NAME"

if [ ! -d "$data" ]; then
    echo "error: no dataset at $data; download it first:" \
        "make docker-download DATASET=$DATASET (or: supersvg-datasets download $DATASET $DATA_DIR)" >&2
    exit 2
fi
mkdir -p "$run" "$WORKSPACE/logs" "$out"

# A stop (docker compose stop, a spot interruption) sends SIGTERM to this script: pass it
# on to the trainer and wait for it, so the run ends as the trainer ends it.
child=""
forward() {
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
}
trap forward TERM INT

echo "$(date -u +%FT%TZ) train $STAGE on $data: epochs=$EPOCHS batch=$BATCH_SIZE lr=$LR" \
    "config=$MODEL_CONFIG device=$DEVICE -> $run" | tee -a "$log"
read -r -a extra <<<"$TRAIN_ARGS"
read -r -a sample_extra <<<"$SAMPLE_ARGS"
"$SUPERSVG" train --data "$data" --output "$run" --stage "$STAGE" --config "$MODEL_CONFIG" \
    --epochs "$EPOCHS" --batch-size "$BATCH_SIZE" --lr "$LR" --device "$DEVICE" --resume \
    "${extra[@]}" > >(tee -a "$log") 2>&1 &
child=$!
status=0
wait "$child" || status=$?
# `wait` returns early when a trapped signal arrives: wait again for the trainer itself.
while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
if [ "$status" -ne 0 ]; then
    echo "$(date -u +%FT%TZ) trainer exited with code $status" | tee -a "$log"
    exit "$status"
fi

# A look at what the model does: a few dataset images vectorized with the checkpoint.
find "$data" -type f \( -name '*.png' -o -name '*.jpg' \) | sort | head -n "$SAMPLES" |
    while read -r image; do
        name="$(basename "${image%.*}")"
        "$SUPERSVG" vectorize "$image" -o "$out/$name.svg" --checkpoint "$run/last.pt" \
            --device "$DEVICE" --no-progress "${sample_extra[@]}" >>"$log" 2>&1 || echo "sample $image failed" >>"$log"
    done
echo "$(date -u +%FT%TZ) done: checkpoint $run/last.pt, samples in $out" | tee -a "$log"
