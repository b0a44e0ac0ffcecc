"""``make run``'s launcher: starts both processes, prints the URL and a working token,
serves requests, and stops everything on Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tools.run_embedded import free_port


def test_launcher_starts_prints_and_stops(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "tools/run_embedded.py",
            "--data-dir",
            str(tmp_path / ".data"),
            "--port",
            str(port),
            "--grpc-port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        out = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while "Press Ctrl-C" not in out and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
        match = re.search(r"running at (http://127\.0\.0\.1:(\d+))/", out)
        assert match, out
        url = match.group(1)
        token = re.search(r"development token: (ssvg_\S+)", out)
        assert token, out
        assert f"Authorization: Bearer {token.group(1)}" in out, "a ready-to-paste curl"
        r = httpx.get(
            f"{url}/api/v1/vectorize/jobs", headers={"Authorization": f"Bearer {token.group(1)}"}
        )
        assert r.status_code == 200 and r.json()["jobs"] == []
        assert (tmp_path / ".data" / "dev-token").read_text().strip() == token.group(1)
        assert (tmp_path / ".data" / "scheduler.db").exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            raise AssertionError("the gateway still answers after Ctrl-C")
        except httpx.TransportError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
