"""The ``supersvg`` command line, run as a subprocess like a user would."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from supersvg.vectorizer.cli import EXIT_HELP, build_parser, main

from .conftest import encode, shapes_image

CLI = [sys.executable, "-m", "supersvg.vectorizer.cli"]


def _run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(CLI + args, input=stdin, capture_output=True, timeout=120, check=False)


def test_vectorize_file_with_preview_and_metrics(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(encode(shapes_image(48), "PNG"))
    out, prev, met = tmp_path / "o.svg", tmp_path / "p.png", tmp_path / "m.json"
    proc = _run(
        [
            "vectorize", str(src), "-o", str(out), "--max-paths", "6", "--iterations", "0",
            "--preview", str(prev), "--metrics", str(met), "--seed", "1",
        ]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    root = ET.fromstring(out.read_text())
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) <= 6
    assert prev.read_bytes().startswith(b"\x89PNG")
    m = json.loads(met.read_text())
    assert m["num_paths"] <= 6 and m["svg_bytes"] == len(out.read_bytes())
    assert proc.stderr == b""  # no progress bar when stderr is not a terminal


def test_fast_mode_imports_no_torch(tmp_path: Path) -> None:
    # torch's import costs about as much as the whole fast mode.
    src = tmp_path / "in.png"
    src.write_bytes(encode(shapes_image(48), "PNG"))
    argv = ["vectorize", str(src), "-o", str(tmp_path / "o.svg"), "--iterations", "0"]
    code = (
        "import sys; from supersvg.vectorizer.cli import main; "
        f"rc = main({argv!r}); print(rc, 'torch' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.stdout.split() == ["0", "False"], proc.stderr[-2000:]
    assert (tmp_path / "o.svg").read_text().startswith("<svg")


def test_stdin_to_stdout() -> None:
    proc = _run(
        ["vectorize", "-", "-o", "-", "--max-paths", "4", "--iterations", "0"],
        stdin=encode(shapes_image(32), "JPEG"),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.startswith(b"<svg") and proc.stdout.rstrip().endswith(b"</svg>")


@pytest.mark.parametrize(
    ("payload", "code", "needle"),
    [
        (b"", 5, b"EMPTY"),
        (b"definitely not an image", 3, b"NOT_AN_IMAGE"),
        (b"GIF89a" + b"\x00" * 40, 7, b"UNSUPPORTED_FORMAT"),
        (encode(shapes_image(64), "PNG")[:300], 4, b"TRUNCATED"),
    ],
)
def test_bad_input_exit_codes(
    tmp_path: Path, payload: bytes, code: int, needle: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "bad.png"
    src.write_bytes(payload)
    rc = main(["vectorize", str(src), "-o", str(tmp_path / "o.svg"), "--iterations", "0"])
    assert rc == code
    assert needle.decode() in capsys.readouterr().err
    assert not (tmp_path / "o.svg").exists()


def test_bad_input_in_a_subprocess(tmp_path: Path) -> None:
    src = tmp_path / "bad.png"
    src.write_bytes(b"not an image at all")
    proc = _run(["vectorize", str(src), "-o", str(tmp_path / "o.svg")])
    assert proc.returncode == 3
    assert b"NOT_AN_IMAGE" in proc.stderr and b"Traceback" not in proc.stderr


def test_too_large_exit_code(tmp_path: Path) -> None:
    src = tmp_path / "big.png"
    src.write_bytes(encode(shapes_image(64), "PNG"))
    rc = main(["vectorize", str(src), "-o", str(tmp_path / "o.svg"), "--max-pixels", "100"])
    assert rc == 6


def test_checkpoint_that_is_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The learned coarse model (``supersvg.vectorizer.learned``) ships with the vectorizer;
    a file that is not a checkpoint is refused with the checkpoint exit code."""
    src = tmp_path / "in.png"
    src.write_bytes(encode(shapes_image(16), "PNG"))
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x")
    rc = main(["vectorize", str(src), "-o", str(tmp_path / "o.svg"), "--checkpoint", str(ckpt)])
    assert rc == 8
    assert "CHECKPOINT" in capsys.readouterr().err
    assert not (tmp_path / "o.svg").exists()


def test_batch_folder(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    (inp / "a.png").write_bytes(encode(shapes_image(24, seed=1), "PNG"))
    (inp / "b.webp").write_bytes(encode(shapes_image(24, seed=2), "WEBP"))
    (inp / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (inp / "notes.txt").write_text("skipped")
    rc = main(["vectorize", str(inp), "-o", str(out), "--max-paths", "5", "--iterations", "0"])
    assert rc == 4  # the broken file's code; the others are still written
    assert sorted(p.name for p in out.iterdir()) == ["a.svg", "b.svg"]


def test_usage_errors_and_help() -> None:
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["vectorize", "x.png", "-o", "y.svg", "--max-paths", "0"])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["vectorize", "x.png", "-o", "y.svg", "--preset", "nope"])
    for code in ("NOT_AN_IMAGE", "TRUNCATED", "EMPTY", "TOO_LARGE", "UNSUPPORTED_FORMAT"):
        assert code in EXIT_HELP
    names = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert "vectorize" in names
