"""`make images` / `make push`: the engine commands (dry run), and a clear failure without one."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/supersvg"


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _commands(*args: str) -> list[list[str]]:
    done = _make(*args, "DRY_RUN=1")
    assert done.returncode == 0, done.stderr
    return [shlex.split(line) for line in done.stdout.splitlines() if line.strip()]


def _chart_repositories() -> set[str]:
    values = yaml.safe_load((ROOT / "charts" / "supersvg" / "values.yaml").read_text())
    return {
        values["gateway"]["image"]["repository"],
        values["scheduler"]["image"]["repository"],
        values["operator"]["image"]["repository"],
        values["vectorizer"]["image"]["repository"],
        values["vectorizer"]["image"]["cpuRepository"],
    }


def test_push_builds_multi_arch_except_the_cuda_worker() -> None:
    cmds = _commands("push", f"IMAGE_REGISTRY={REGISTRY}/", "IMAGE_TAG=0.1.0")
    pushed = {}
    for cmd in cmds:
        assert cmd[:3] == ["docker", "buildx", "build"] and cmd[-2:] == ["--push", "."]
        ref = cmd[cmd.index("-t") + 1]
        dockerfile = cmd[cmd.index("-f") + 1]
        assert (ROOT / dockerfile).is_file()
        assert ref.startswith(f"{REGISTRY}/") and ref.endswith(":0.1.0")  # one slash
        pushed[ref.removeprefix(f"{REGISTRY}/").removesuffix(":0.1.0")] = cmd[
            cmd.index("--platform") + 1
        ]
    # Exactly what the chart pulls is pushed (compose-only images stay local).
    assert set(pushed) == _chart_repositories()
    assert pushed["supersvg-vectorizer"] == "linux/amd64"
    for name, platforms in pushed.items():
        if name != "supersvg-vectorizer":
            assert platforms == "linux/amd64,linux/arm64", name


def test_platforms_can_be_chosen() -> None:
    cmds = _commands("push", "IMAGE_REGISTRY=r.example/x", "IMAGE_TAG=t", "PLATFORMS=linux/arm64")
    platforms = {cmd[cmd.index("-t") + 1]: cmd[cmd.index("--platform") + 1] for cmd in cmds}
    assert platforms["r.example/x/supersvg-gateway:t"] == "linux/arm64"
    assert platforms["r.example/x/supersvg-vectorizer:t"] == "linux/amd64"


def test_images_builds_for_the_host_into_the_local_store() -> None:
    cmds = _commands("images", "IMAGE_REGISTRY=r.example/x", "IMAGE_TAG=t")
    assert cmds and all(cmd[:2] == ["docker", "build"] for cmd in cmds)
    assert "r.example/x/supersvg-gateway:t" in {cmd[cmd.index("-t") + 1] for cmd in cmds}


def test_without_an_engine_the_targets_fail_clearly() -> None:
    for target in ("images", "push"):
        done = _make(target, "IMAGE_REGISTRY=r.example/x", "DOCKER=/nonexistent/docker")
        assert done.returncode != 0
        assert f"make {target}: '/nonexistent/docker' is not installed" in done.stderr


def test_an_empty_registry_is_refused() -> None:
    done = _make("push", "IMAGE_REGISTRY=", "DRY_RUN=1")
    assert done.returncode != 0 and "IMAGE_REGISTRY is empty" in done.stderr
