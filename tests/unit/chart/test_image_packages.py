"""What the images install: the components built as wheels, as the Dockerfiles do.

The images install each component with `pip install ./path` (not editable), so files that are
not Python modules ship only when the component declares them as package data. This builds
the wheels offline (no dependencies, no isolation) and checks that every tracked data file
under a component's ``src/`` is in its wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# The components the Dockerfiles install (libs/api gets its generated code first), and
# libs/cloud, which the host bootstrap installs the same way.
COMPONENTS = [
    "libs/common",
    "libs/api",
    "libs/datasets",
    "libs/cloud",
    "diffvg",
    "services/gateway",
    "services/scheduler",
    "services/vectorizer",
    "services/worker",
    "operator",
]


def _data_files(component: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", f"{component}/src"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    prefix = f"{component}/src/"
    return [p.removeprefix(prefix) for p in out if not p.endswith((".py", ".pyi", ".md"))]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("build")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".mypy_cache", "v1")
    for component in COMPONENTS:
        shutil.copytree(ROOT / component, work / component, ignore=ignore)
    shutil.copytree(ROOT / "protos", work / "protos")
    api_src = work / "libs/api/src"
    (api_src / "supersvg/api/v1").mkdir(parents=True)
    protos = sorted(str(p.relative_to(work)) for p in (work / "protos").rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-Iprotos", f"--python_out={api_src}",
         f"--grpc_python_out={api_src}", *protos],
        cwd=work, check=True,
    )  # fmt: skip
    (api_src / "supersvg/api/v1/__init__.py").write_text('"""Generated."""\n')
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(dist), *(f"./{c}" for c in COMPONENTS)],
        cwd=work, check=True, capture_output=True, text=True,
    )  # fmt: skip
    found = {}
    for component in COMPONENTS:
        name = (work / component / "pyproject.toml").read_text().split('name = "')[1].split('"')[0]
        (wheel,) = dist.glob(f"{name.replace('-', '_')}-*.whl")
        found[component] = wheel
    return found


def test_generated_grpc_code_is_in_the_api_wheel(wheels: dict[str, Path]) -> None:
    names = zipfile.ZipFile(wheels["libs/api"]).namelist()
    assert "supersvg/api/v1/scheduler_pb2.py" in names
    assert "supersvg/api/v1/scheduler_pb2_grpc.py" in names


def test_console_scripts_the_images_run_are_declared(wheels: dict[str, Path]) -> None:
    def scripts(component: str) -> str:
        wheel = zipfile.ZipFile(wheels[component])
        (entry,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
        return wheel.read(entry).decode()

    assert "supersvg-scheduler =" in scripts("services/scheduler")
    assert "supersvg-operator =" in scripts("operator")
    assert "supersvg-worker =" in scripts("services/worker")
    assert "supersvg =" in scripts("services/vectorizer")


@pytest.mark.parametrize("component", COMPONENTS)
def test_data_files_ship_in_the_wheel(wheels: dict[str, Path], component: str) -> None:
    names = set(zipfile.ZipFile(wheels[component]).namelist())
    missing = [f for f in _data_files(component) if f not in names]
    assert not missing, f"{component}: not in the wheel: {missing}"
