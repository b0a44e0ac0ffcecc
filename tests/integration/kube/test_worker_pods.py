"""VectorizeJobs run the real worker: a minimal kubelet executes the operator's pods."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from supersvg.common.storage import LocalArtifactStore
from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.kubelet import Kubelet
from tools.testing.kube.operator import OperatorRunner


@pytest.fixture
def kubelet(kube_api: KubeCluster, jobs: Jobs, tmp_path: Path) -> Iterator[Kubelet]:
    jobs.create_local_storage(tmp_path / "artifacts")
    node = Kubelet(kube_api, tmp_path / "pods").start()
    try:
        yield node
    finally:
        node.stop()


def _png() -> bytes:
    img = Image.new("RGB", (48, 40), "white")
    ImageDraw.Draw(img).ellipse((8, 6, 36, 30), fill="crimson")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_worker_pods_write_results_and_bad_input_fails_once(
    jobs: Jobs, operator_runner: OperatorRunner, kubelet: Kubelet, tmp_path: Path
) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.put("uploads/real.png", _png())
    store.put("uploads/junk.png", b"this is not an image")
    fast = {"maxPaths": 8, "numIterations": 0}
    jobs.create("real", input={"key": "uploads/real.png"}, device="cpu", config=fast)
    jobs.create("junk", input={"key": "uploads/junk.png"}, device="cpu", config=fast)

    status = jobs.wait_phase("real", "Succeeded", timeout=90)
    assert store.list("results/real/") == [
        "results/real/output.svg",
        "results/real/preview.png",
        "results/real/result.json",
    ]
    assert status["result"]["resultKey"] == "results/real/result.json"
    document = json.loads(store.get("results/real/result.json"))
    assert 1 <= document["metrics"]["num_paths"] <= 8
    # The worker's termination message carries the path count into the status.
    assert status["numPaths"] == document["metrics"]["num_paths"]

    failed = jobs.wait_phase("junk", "Failed", timeout=90)
    assert failed["reason"] == "InvalidInput" and failed["exitCode"] == 2
    assert kubelet.started.count("junk-1") == 1 and "junk-2" not in kubelet.started
