"""The GPU check's measuring code, run on the CPU (its CUDA-only parts need a device)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import gpu_check


def test_cpu_machine_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setattr(gpu_check, "gpu_tests", lambda timeout: {"exit_code": 0, "summary": "ok"})
    assert gpu_check.main(["--out", str(tmp_path)]) == 0
    assert "no CUDA device here" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_measurements_and_report_on_cpu(tmp_path: Path) -> None:
    render = gpu_check.render_case(16, 64, "superpixel", "cpu", steps=1)
    assert render["fwd_ms"] > 0 and render["bwd_ms"] > 0
    image = np.full((32, 32, 3), 240, np.uint8)
    image[8:24, 8:24] = (200, 30, 30)
    vec = gpu_check.vectorize_case("square", image, 8, "cpu")
    assert 1 <= vec["outlines"] <= 8 and vec["psnr"] > 20
    profile = gpu_check.profile_case(16, 64, "superpixel", "cpu")
    assert profile["kernels_per_step"] == 0 and profile["cpu_op_events_per_step"] > 100
    broken = gpu_check._guarded("render", gpu_check.render_case, 16, 64, "image", "nodevice", 1)
    assert "error" in broken and broken["args"][3] == "nodevice"  # a row, not an exception
    report = {
        "machine": {"torch": torch.__version__, "python": "3", "device": "test"},
        "tests": {"exit_code": 1, "summary": "1 failed", "failures": ["FAILED test_x"]},
        "profile": [profile],
        "render": [render, broken],
        "vectorize": [vec],
        "train": [
            {"config": "paper", "amp": True, "workers": 8, "steps": 4, "steps_per_second": 1.0,
             "samples_per_second": 16.0, "peak_gpu_mib": 1.0, "note": "whole runs"}
        ],
        "skipped": ["vectorize square @1024 cpu", "vectorize square @1024 cpu"],
        "targets": {"renderer": "1 ms"},
    }  # fmt: skip
    gpu_check.write(tmp_path, report)
    assert json.loads((tmp_path / "gpu_check_cuda.json").read_text())["render"][0] == render
    md = (tmp_path / "gpu_check_cuda.md").read_text()
    assert "16 superpixel @ 64px" in md and "| square | 8 | cpu |" in md
    assert "- FAILED test_x" in md and "| paper | True | 8 | 4 |" in md
    assert "Errors:\n- render [16, 64, 'image', 'nodevice', 1]" in md
    assert md.count("vectorize square @1024 cpu") == 1  # listed once
