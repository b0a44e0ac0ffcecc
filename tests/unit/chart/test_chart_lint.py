"""`helm lint` with the real Helm library (helm-sdkpy), on the chart and on broken copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.testing import helmkit

ERROR = 3  # Helm's support.ErrorSev


def _lint(chart: Path) -> dict[str, Any]:
    (result,) = helmkit.helm([{"action": "lint"}], chart=chart)
    assert result["TotalChartsLinted"] == 1
    return result


def _errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in result["Messages"] if m["Severity"] >= ERROR]


def test_chart_lints_without_errors_or_warnings() -> None:
    result = _lint(helmkit.CHART)
    assert _errors(result) == []
    assert [m for m in result["Messages"] if m["Severity"] >= 2] == []
    assert not result["Errors"]


def _bad_template(chart: Path) -> None:
    (chart / "templates" / "broken.yaml").write_text("{{ .Values.missing.deeper }}\n")


def _bad_value(chart: Path) -> None:
    values = chart / "values.yaml"
    text = values.read_text()
    values.write_text(text.replace("  replicaCount: 2\n", "  replicaCount: two\n", 1))
    assert values.read_text() != text


def _bad_version(chart: Path) -> None:
    meta = chart / "Chart.yaml"
    meta.write_text(meta.read_text().replace("version: 0.1.0", "version: not-a-semver"))


@pytest.mark.parametrize("breakage", [_bad_template, _bad_value, _bad_version])
def test_lint_reports_a_broken_chart(tmp_path: Path, breakage: Callable[[Path], None]) -> None:
    chart = tmp_path / "supersvg"
    shutil.copytree(helmkit.CHART, chart)
    breakage(chart)
    assert _errors(_lint(chart)), f"lint accepted a chart after {breakage.__name__}"
