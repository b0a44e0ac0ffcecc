"""The ``remote`` command's parser, registration and environment handling."""

from __future__ import annotations

import argparse
import importlib.metadata
import io
from pathlib import Path

import pytest

from supersvg.client import Job, cli


def test_registers_under_a_parent_cli() -> None:
    parent = argparse.ArgumentParser(prog="supersvg")
    sub = parent.add_subparsers(dest="command")
    cli.register(sub)
    args = parent.parse_args(
        [
            "remote",
            "--url",
            "http://h:1",
            "submit",
            "in.png",
            "--max-paths",
            "64",
            "--iterations",
            "10",
            "--wait",
            "-o",
            "out.svg",
        ]
    )
    assert args.func is cli.run
    assert args.remote_action == "submit"
    assert (args.url, args.image, args.max_paths, args.num_iterations) == (
        "http://h:1",
        Path("in.png"),
        64,
        10,
    )
    assert args.wait and args.output == Path("out.svg")


def test_entry_point_is_declared() -> None:
    eps = importlib.metadata.entry_points(group="supersvg.commands")
    remote = [ep for ep in eps if ep.name == "remote"]
    assert remote and remote[0].load() is cli.register


def test_flags_after_action_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["status", "job_1", "--token", "t1", "--url", "http://a:2"])
    assert cli._resolve(args) == ("http://a:2", "t1")
    monkeypatch.setenv("SUPERSVG_URL", "http://env:3")
    monkeypatch.setenv("SUPERSVG_TOKEN", "envtok")
    args = parser.parse_args(["list", "--limit", "5"])
    assert cli._resolve(args) == ("http://env:3", "envtok")
    assert args.limit == 5


@pytest.mark.parametrize(
    "argv",
    [
        ["submit", "a.png", "--max-paths", "0"],
        ["submit", "a.png", "--config", "[1, 2]"],
        ["submit", "a.png", "--config", "{bad"],
        ["submit", "a.png", "--priority", "urgent"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_are_rejected(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(argv)
    assert info.value.code == 2


def test_missing_image_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    # A missing file fails before any request is made, with a message and exit status 1.
    code = cli.main(["--url", "http://127.0.0.1:9", "submit", "/nonexistent/image.png"])
    assert code == 1
    assert "image not found" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_lines_otherwise() -> None:
    tty = _Terminal()
    bar = cli._Progress(tty)
    for status, pct in (("queued", 0), ("running", 40), ("completed", 100)):
        bar(Job(job_id="job_1", status=status, progress=pct))
    bar.close()
    drawn = tty.getvalue()
    assert "\r" in drawn and "100%" in drawn and "completed" in drawn  # tqdm redraws in place

    plain = io.StringIO()
    lines = cli._Progress(plain)
    lines(Job(job_id="job_1", status="running", progress=40))
    lines.close()
    assert plain.getvalue() == "job_1 running 40%\n"
