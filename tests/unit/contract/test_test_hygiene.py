"""Tests import no other test modules and benchmarks import no test code: what they share
lives in ``tools/testing``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def imports_of_tests(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] == "tests"]
    return found


def test_no_test_or_benchmark_imports_test_modules() -> None:
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    files += list((ROOT / "tools").rglob("*.py"))
    offenders = [line for f in files for line in imports_of_tests(f)]
    assert offenders == []


def test_the_check_sees_an_import_of_a_test_module(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("from tests.unit.scheduler.test_core import env\nimport tests.conftest\n")
    assert imports_of_tests(bad, tmp_path) == [
        "probe.py: tests.unit.scheduler.test_core",
        "probe.py: tests.conftest",
    ]
