#!/usr/bin/env bash
# SuperSVG host bootstrap: turns one GPU machine (an EC2 instance through user data, or a
# RunPod / Vast.ai / Lambda host by hand) into a training box, then starts training.
#
#   bash bootstrap.sh                                  # everything, defaults below
#   STEPS="repo tools dataset scripts" bash bootstrap.sh   # only some steps
#
# Steps, in order (STEPS picks a subset):
#   drivers   NVIDIA driver via ubuntu-drivers when a GPU is present and nvidia-smi is not
#   docker    Docker Engine + Compose plugin when missing; NVIDIA container toolkit on GPUs
#             (RUNTIME=native: skipped)
#   repo      clone REPO_URL at REPO_REF (branch, tag or commit) into WORKDIR/supersvg
#   tools     venv WORKDIR/.venv-tools with supersvg-datasets and supersvg-cloud (no torch)
#   image     pull IMAGE (tagged as the compose trainer image) or build it (make docker-build);
#             RUNTIME=native: a venv WORKDIR/.venv-train with torch and the vectorizer
#   dataset   supersvg-datasets download DATASET WORKDIR/data
#   scripts   WORKDIR/bin/{train_supersvg,monitor_training,sync_checkpoints,stop_and_sync}.sh
#   watchers  background: checkpoint sync every SYNC_INTERVAL s (with S3_BUCKET) and, on
#             spot instances (SPOT=1), the interruption watcher that stops and syncs
#   train     WORKDIR/bin/train_supersvg.sh (background training: compose, or with
#             RUNTIME=native deploy/compose/train.sh straight from the venv)
#
# RUNTIME: docker (default; VMs such as EC2 and Lambda) or native (container hosts such as
# RunPod and Vast.ai pods, where Docker does not run inside the pod).
#
# Settings (environment): REPO_URL, REPO_REF [main], WORKDIR [/opt/supersvg as root, else
# ~/supersvg], IMAGE [], DATASET [test], RUN_NAME [supersvg], EPOCHS [100], BATCH_SIZE
# [32], LR [0.001], TRAIN_ARGS [--checkpoint-every 50], S3_BUCKET [], S3_PREFIX
# [RUN_NAME], SYNC_INTERVAL [900], SPOT [0], RUNTIME [docker], TOOLS_VENV
# [WORKDIR/.venv-tools], TRAIN_VENV [WORKDIR/.venv-train], TORCH_INDEX_URL [CUDA 12.8
# wheels with a GPU, else CPU], PYTHON [python3]. Every step can be re-run; it skips what is already in place.
set -euo pipefail

REPO_URL="${REPO_URL:-https://github.com/supersvg/supersvg.git}"
REPO_REF="${REPO_REF:-main}"
if [ "$(id -u)" -eq 0 ]; then default_workdir=/opt/supersvg; else default_workdir="$HOME/supersvg"; fi
WORKDIR="${WORKDIR:-$default_workdir}"
IMAGE="${IMAGE:-}"
DATASET="${DATASET:-test}"
RUN_NAME="${RUN_NAME:-supersvg}"
EPOCHS="${EPOCHS:-100}"
BATCH_SIZE="${BATCH_SIZE:-32}"
LR="${LR:-0.001}"
TRAIN_ARGS="${TRAIN_ARGS:---checkpoint-every 50}"
S3_BUCKET="${S3_BUCKET:-}"
S3_PREFIX="${S3_PREFIX:-$RUN_NAME}"
SYNC_INTERVAL="${SYNC_INTERVAL:-900}"
SPOT="${SPOT:-0}"
RUNTIME="${RUNTIME:-docker}"
TOOLS_VENV="${TOOLS_VENV:-$WORKDIR/.venv-tools}"
TRAIN_VENV="${TRAIN_VENV:-$WORKDIR/.venv-train}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"
PYTHON="${PYTHON:-python3}"
STEPS="${STEPS:-drivers docker repo tools image dataset scripts watchers train}"

REPO="$WORKDIR/supersvg"
BIN="$WORKDIR/bin"
DATA="$WORKDIR/data"
WORKSPACE="$WORKDIR/workspace"

say() { echo "[supersvg-bootstrap $(date -u +%H:%M:%S)] $*"; }
has() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
has_gpu() { has lspci && lspci | grep -qi nvidia; }
wants() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

step_drivers() {
    if has nvidia-smi; then say "NVIDIA driver present"; return; fi
    if ! has_gpu; then say "no NVIDIA GPU found: skipping the driver"; return; fi
    say "installing the NVIDIA driver (a reboot follows; re-run this script after it)"
    as_root apt-get update -q
    as_root apt-get install -y -q ubuntu-drivers-common
    as_root ubuntu-drivers install
    as_root reboot
}

step_docker() {
    if [ "$RUNTIME" = native ]; then say "native runtime: no Docker needed"; return; fi
    if ! has docker; then
        say "installing Docker Engine"
        curl -fsSL https://get.docker.com | as_root sh
    fi
    if ! docker compose version >/dev/null 2>&1; then
        as_root apt-get install -y -q docker-compose-plugin
    fi
    if has nvidia-smi && ! has nvidia-ctk; then
        say "installing the NVIDIA container toolkit"
        curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey |
            as_root gpg --dearmor --yes -o /usr/share/keyrings/nvidia-container-toolkit.gpg
        curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list |
            sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit.gpg] https://#' |
            as_root tee /etc/apt/sources.list.d/nvidia-container-toolkit.list >/dev/null
        as_root apt-get update -q
        as_root apt-get install -y -q nvidia-container-toolkit
        as_root nvidia-ctk runtime configure --runtime=docker
        as_root systemctl restart docker
    fi
}

step_repo() {
    mkdir -p "$WORKDIR"
    if [ -d "$REPO/.git" ]; then
        say "updating $REPO to $REPO_REF"
        git -C "$REPO" fetch -q origin "$REPO_REF"
        git -C "$REPO" checkout -q FETCH_HEAD
    else
        say "cloning $REPO_URL ($REPO_REF) into $REPO"
        git clone -q "$REPO_URL" "$REPO"
        git -C "$REPO" checkout -q "$REPO_REF"
    fi
}

step_tools() {
    if [ -x "$TOOLS_VENV/bin/supersvg-datasets" ] && [ -x "$TOOLS_VENV/bin/supersvg-cloud" ]; then
        say "host tools present in $TOOLS_VENV"
        return
    fi
    say "installing the host tools (datasets, checkpoint sync; no torch) into $TOOLS_VENV"
    "$PYTHON" -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install -q -c "$REPO/requirements/constraints.txt" \
        "$REPO/libs/datasets" "$REPO/libs/cloud"
}

step_native_venv() {
    if [ -x "$TRAIN_VENV/bin/supersvg" ]; then say "trainer present in $TRAIN_VENV"; return; fi
    local index="$TORCH_INDEX_URL"
    if [ -z "$index" ]; then
        index=https://download.pytorch.org/whl/cpu
        if has nvidia-smi; then index=https://download.pytorch.org/whl/cu128; fi
    fi
    say "installing torch ($index) and the vectorizer into $TRAIN_VENV"
    local pins="$REPO/requirements/constraints.txt"
    "$PYTHON" -m venv "$TRAIN_VENV"
    "$TRAIN_VENV/bin/pip" install -q --index-url "$index" \
        "torch==$(sed -n 's/^torch==//p' "$pins")"
    "$TRAIN_VENV/bin/pip" install -q -c "$pins" grpcio-tools
    mkdir -p "$REPO/libs/api/src/supersvg/api/v1"
    (cd "$REPO" && "$TRAIN_VENV/bin/python" -m grpc_tools.protoc -Iprotos \
        --python_out=libs/api/src --pyi_out=libs/api/src --grpc_python_out=libs/api/src \
        protos/supersvg/api/v1/*.proto)
    echo '"""Generated from protos/supersvg/api/v1; do not edit."""' \
        >"$REPO/libs/api/src/supersvg/api/v1/__init__.py"
    "$TRAIN_VENV/bin/pip" install -q -c "$pins" "$REPO/libs/common" "$REPO/libs/api" \
        "$REPO/libs/datasets" "$REPO/diffvg" "$REPO/services/vectorizer"
}

step_image() {
    if [ "$RUNTIME" = native ]; then step_native_venv; return; fi
    if [ -n "$IMAGE" ]; then
        say "pulling $IMAGE"
        docker pull "$IMAGE"
        # Under the name compose.yaml (GPU: compose.gpu.yaml) gives the trainer image.
        local trainer=supersvg-vectorizer-cpu
        if has nvidia-smi; then trainer=supersvg-vectorizer; fi
        docker tag "$IMAGE" "ghcr.io/supersvg/$trainer:dev"
    else
        say "building the trainer image (this takes a while the first time)"
        make -C "$REPO" docker-build
    fi
}

step_dataset() {
    mkdir -p "$DATA"
    say "dataset $DATASET into $DATA"
    "$TOOLS_VENV/bin/supersvg-datasets" download "$DATASET" "$DATA" --no-progress
}

write_script() {
    # write_script NAME BODY: an executable WORKDIR/bin/NAME with the settings baked in.
    mkdir -p "$BIN"
    {
        echo "#!/usr/bin/env bash"
        echo "# Written by the SuperSVG bootstrap; environment variables override the values."
        echo "set -euo pipefail"
        # shellcheck disable=SC2016 # ${RUN_NAME:-...} is for the written script to expand
        printf 'WORKDIR=%q\nRUN_NAME="${RUN_NAME:-%s}"\n' "$WORKDIR" "$RUN_NAME"
        printf '%s\n' "$2"
    } >"$BIN/$1"
    chmod +x "$BIN/$1"
}

step_scripts() {
    mkdir -p "$WORKSPACE/output" "$WORKSPACE/logs" "$WORKSPACE/checkpoints"
    if [ "$RUNTIME" = native ]; then
        write_script train_supersvg.sh "$(printf '%s\n' \
            "# Start (or resume) training in the background: BATCH_SIZE=64 EPOCHS=200 $BIN/train_supersvg.sh" \
            "pidfile=\"\$WORKDIR/workspace/logs/\$RUN_NAME.pid\"" \
            "if [ -f \"\$pidfile\" ] && kill -0 \"\$(cat \"\$pidfile\")\" 2>/dev/null; then echo 'already training'; exit 0; fi" \
            "DATA_DIR=\"\$WORKDIR/data\" WORKSPACE=\"\$WORKDIR/workspace\" SUPERSVG=$(printf %q "$TRAIN_VENV/bin/supersvg") \\" \
            "    DATASET=\"\${DATASET:-$DATASET}\" EPOCHS=\"\${EPOCHS:-$EPOCHS}\" BATCH_SIZE=\"\${BATCH_SIZE:-$BATCH_SIZE}\" \\" \
            "    LR=\"\${LR:-$LR}\" RUN_NAME=\"\$RUN_NAME\" TRAIN_ARGS=\"\${TRAIN_ARGS:-$TRAIN_ARGS}\" \\" \
            "    nohup bash \"\$WORKDIR/supersvg/deploy/compose/train.sh\" >/dev/null 2>&1 &" \
            "echo \$! >\"\$pidfile\"" \
            "echo \"training in the background (pid \$!)\"")"
        write_script stop_and_sync.sh "$(printf '%s\n' \
            "# Stop training (the trainer gets SIGTERM), then sync its last checkpoint." \
            "pidfile=\"\$WORKDIR/workspace/logs/\$RUN_NAME.pid\"" \
            "if [ -f \"\$pidfile\" ]; then kill -TERM \"\$(cat \"\$pidfile\")\" 2>/dev/null || true; fi" \
            "exec \"\$WORKDIR/bin/sync_checkpoints.sh\"")"
    else
        write_script train_supersvg.sh "$(printf '%s\n' \
            "# Start (or resume) training in the background: BATCH_SIZE=64 EPOCHS=200 $BIN/train_supersvg.sh" \
            "cd \"\$WORKDIR/supersvg\"" \
            "make docker-daemon DATA_PATH=\"\$WORKDIR/data\" WORKSPACE_PATH=\"\$WORKDIR/workspace\" \\" \
            "    DATASET=\"\${DATASET:-$DATASET}\" EPOCHS=\"\${EPOCHS:-$EPOCHS}\" \\" \
            "    BATCH=\"\${BATCH_SIZE:-$BATCH_SIZE}\" LR=\"\${LR:-$LR}\" RUN_NAME=\"\$RUN_NAME\" \\" \
            "    TRAIN_ARGS=\"\${TRAIN_ARGS:-$TRAIN_ARGS}\"")"
        write_script stop_and_sync.sh "$(printf '%s\n' \
            "# Stop training (the trainer gets SIGTERM), then sync its last checkpoint." \
            "make -C \"\$WORKDIR/supersvg\" docker-stop WORKSPACE_PATH=\"\$WORKDIR/workspace\" || true" \
            "exec \"\$WORKDIR/bin/sync_checkpoints.sh\"")"
    fi
    write_script monitor_training.sh "$(printf '%s\n' \
        "# GPU use, the last losses and the checkpoint's age of the run." \
        "exec $(printf %q "$TOOLS_VENV/bin/supersvg-cloud") monitor --workspace \"\$WORKDIR/workspace\" --run \"\$RUN_NAME\" \"\$@\"")"
    write_script sync_checkpoints.sh "$(printf '%s\n' \
        "# Copy new or changed checkpoint files of the run to S3 (nothing without a bucket)." \
        "bucket=\"\${S3_BUCKET:-$S3_BUCKET}\"" \
        "if [ -z \"\$bucket\" ]; then echo 'no S3_BUCKET: checkpoints stay on this machine'; exit 0; fi" \
        "exec $(printf %q "$TOOLS_VENV/bin/supersvg-cloud") sync \"\$WORKDIR/workspace/checkpoints/\$RUN_NAME\" \\" \
        "    \"s3://\$bucket/\${S3_PREFIX:-$S3_PREFIX}/checkpoints\"")"
    say "scripts in $BIN: train_supersvg.sh, monitor_training.sh, sync_checkpoints.sh, stop_and_sync.sh"
}

step_watchers() {
    local logs="$WORKSPACE/logs"
    mkdir -p "$logs"
    if [ -n "$S3_BUCKET" ]; then
        say "checkpoint sync every ${SYNC_INTERVAL}s to s3://$S3_BUCKET/$S3_PREFIX"
        nohup bash -c "while sleep $SYNC_INTERVAL; do $(printf %q "$BIN/sync_checkpoints.sh"); done" \
            >>"$logs/sync.log" 2>&1 &
    fi
    if [ "$SPOT" = 1 ]; then
        say "spot interruption watcher started"
        nohup "$TOOLS_VENV/bin/supersvg-cloud" spot-watch --on-notice "$BIN/stop_and_sync.sh" \
            >>"$logs/spot.log" 2>&1 &
    fi
}

step_train() {
    say "starting training: $DATASET, $EPOCHS epochs, batch $BATCH_SIZE, lr $LR"
    "$BIN/train_supersvg.sh"
    say "training runs in the background; watch it with $BIN/monitor_training.sh"
}

for step in drivers docker repo tools image dataset scripts watchers train; do
    if wants "$step"; then "step_$step"; fi
done
say "done: $STEPS"
