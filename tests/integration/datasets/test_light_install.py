"""The datasets tool installs and runs without torch; training reads what it writes.

A fresh virtual environment (no system site packages) gets ``pip install ./libs/datasets``
with the repository's constraints, exactly as a researcher's laptop would. It must not
pull in torch, and ``download test ROOT`` must build the documented layout. The training
code of this environment then trains on that folder unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from supersvg.vectorizer.train.cli import main as train_main

REPO = Path(__file__).resolve().parents[3]
TEST_COUNT = 300


def _run(cmd: list[str | Path], **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, check=False, **kw
    )  # type: ignore[call-overload,no-any-return]


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only ``supersvg-datasets`` (and its dependencies) installed."""
    home = tmp_path_factory.mktemp("light") / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(home)
    pip = _run(
        [home / "bin" / "python", "-m", "pip", "install", "-q",
         "-c", REPO / "requirements" / "constraints.txt", REPO / "libs" / "datasets"],
        timeout=600,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    return home


def test_light_install_has_no_torch_and_builds_the_layout(light_venv: Path, tmp_path: Path) -> None:
    py = light_venv / "bin" / "python"
    probe = _run([py, "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"])
    assert probe.stdout.strip() == "True", probe.stderr
    listed = _run([py, "-m", "pip", "list", "--format=json"])
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "supersvg-datasets" in installed
    assert not installed & {"torch", "tqdm", "scipy", "scikit-image", "supersvg-vectorizer"}

    root = tmp_path / "data"
    first = _run([light_venv / "bin" / "supersvg-datasets", "download", "test", root], timeout=600)
    assert first.returncode == 0, first.stderr
    assert f"test: {TEST_COUNT} generated, 0 verified" in first.stdout
    names = sorted(p.name for p in (root / "test" / "test_class").iterdir())
    assert names == [f"test_{i:03d}.jpg" for i in range(TEST_COUNT)]
    assert sorted(p.name for p in (root / "test").iterdir()) == ["manifest.json", "test_class"]

    # Re-runs are incremental, through `python -m` and through the full `supersvg` CLI alike.
    again = _run([py, "-m", "supersvg.datasets", "download", "test", root, "--no-progress"])
    assert f"test: 0 generated, {TEST_COUNT} verified" in again.stdout, again.stderr
    full = _run([Path(sys.executable).parent / "supersvg", "datasets", "download", "test", root])
    assert f"test: 0 generated, {TEST_COUNT} verified" in full.stdout, full.stderr

    # The training code reads the folder as written.
    out = tmp_path / "run"
    rc = train_main(
        ["train", "--data", str(root / "test"), "--output", str(out), "--max-steps", "2",
         "--batch-size", "2", "--max-images", "4", "--threads", "1",
         "--preview-every", "1000", "--checkpoint-every", "1000"]
    )  # fmt: skip
    assert rc == 0
    assert (out / "last.pt").is_file()
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2  # header and one row per step


def test_an_older_runs_names_are_replaced(light_venv: Path, tmp_path: Path) -> None:
    """A folder from the earlier ``00000.jpg`` naming ends up holding only the new names."""
    root = tmp_path / "data"
    folder = root / "test" / "test_class"
    folder.mkdir(parents=True)
    old = folder / "00000.jpg"
    old.write_bytes(b"old image")
    manifest = {"sources": {}, "complete": {}, "files": {"test_class/00000.jpg": "0" * 64}}
    (root / "test" / "manifest.json").write_text(json.dumps(manifest))
    run = _run([light_venv / "bin" / "python", "-m", "supersvg.datasets", "download", "test",
                "--root", root])  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not old.exists()
    assert len(list(folder.iterdir())) == TEST_COUNT
    recorded = json.loads((root / "test" / "manifest.json").read_text())["files"]
    assert "test_class/00000.jpg" not in recorded and len(recorded) == TEST_COUNT
