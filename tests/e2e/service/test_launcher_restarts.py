"""``make run`` keeps one machine running: a killed scheduler is restarted with backoff,
the gateway stays up meanwhile, and a job submitted afterwards completes."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tools.run_embedded import free_port
from tools.testing.service import FAST, png_bytes


def _children(pid: int) -> dict[str, int]:
    """The launcher's child processes by service name (Linux /proc)."""
    found: dict[str, int] = {}
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for kid in kids:
        cmd = Path(f"/proc/{kid}/cmdline").read_bytes().split(b"\0")
        for name in ("scheduler", "gateway"):
            if f"supersvg.{name}".encode() in cmd:
                found[name] = int(kid)
    return found


def _lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)


def _wait_for(lines: queue.Queue[str], pattern: str, seen: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def test_killed_scheduler_is_restarted_and_the_gateway_stays_up(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "tools/run_embedded.py", "--data-dir", str(tmp_path / ".data"),
         "--port", str(free_port()), "--grpc-port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    threading.Thread(target=_lines, args=(proc.stderr, err), daemon=True).start()
    seen_out: list[str] = []
    seen_err: list[str] = []
    try:
        _wait_for(out, r"Press Ctrl-C", seen_out, timeout=90)
        banner = "".join(seen_out)
        url = re.search(r"running at (http://127\.0\.0\.1:\d+)/", banner)
        token = re.search(r"development token: (\S+)", banner)
        assert url and token, banner
        base, auth = url.group(1), {"Authorization": f"Bearer {token.group(1)}"}
        before = _children(proc.pid)
        assert set(before) == {"scheduler", "gateway"}, before

        os.kill(before["scheduler"], signal.SIGKILL)
        said = _wait_for(err, r"scheduler exited", seen_err, timeout=30)
        assert "signal SIGKILL" in said and "restarting it in 1s" in said, said
        # The gateway process is untouched and keeps answering while the scheduler is away.
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        _wait_for(err, r"scheduler restarted \(pid \d+, restart 1\)", seen_err, timeout=60)
        after = _children(proc.pid)
        assert after["gateway"] == before["gateway"]
        assert after["scheduler"] != before["scheduler"]

        with httpx.Client(timeout=30) as client:
            r = client.post(
                f"{base}/api/v1/vectorize/jobs",
                files={"image": ("in.png", png_bytes())},
                data={"config": json.dumps(FAST)},
                headers=auth,
            )
            assert r.status_code == 202, r.text
            job = r.json()["job_id"]
            status: dict[str, object] = {}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status = client.get(f"{base}/api/v1/vectorize/jobs/{job}", headers=auth).json()
                if status["status"] in ("completed", "failed"):
                    break
                time.sleep(0.5)
            assert status["status"] == "completed", status
        assert proc.poll() is None, "the launcher keeps running"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _FlakyStack:
    """Two real processes: the scheduler exits at once ``crashes`` times, the gateway sleeps."""

    def __init__(self, crashes: int) -> None:
        self.crashes, self.failed_starts = crashes, 0
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.gateway: subprocess.Popen[bytes] | None = None
        self.start_scheduler()
        self.start_gateway()

    def start_scheduler(self) -> None:
        if self.failed_starts:
            self.failed_starts -= 1
            raise RuntimeError("scheduler exited with code 1 while starting")
        code = "import sys; sys.exit(3)" if self.crashes else "import time; time.sleep(60)"
        self.crashes = max(0, self.crashes - 1)
        self.scheduler = subprocess.Popen([sys.executable, "-c", code])

    def start_gateway(self) -> None:
        self.gateway = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def close(self) -> None:
        for proc in (self.scheduler, self.gateway):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_restart_delays_grow_to_the_cap_and_failed_starts_are_retried() -> None:
    from supersvg.common.backoff import Backoff
    from tools.run_embedded import Supervisor

    stack = _FlakyStack(crashes=4)
    said: list[str] = []
    supervisor = Supervisor(
        stack,  # type: ignore[arg-type]
        Backoff(base=0.05, maximum=0.2),
        stable_after=60.0,
        say=said.append,
    )
    gateway_pid = stack.gateway.pid if stack.gateway else None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("restart 4)" in m for m in said):
            supervisor.poll()
            time.sleep(0.01)
        delays = [float(m.rsplit(" in ", 1)[1].rstrip("s")) for m in said if "exited" in m]
        assert delays == [0.05, 0.1, 0.2, 0.2], said
        assert all("exited with code 3" in m for m in said if "exited" in m), said
        assert [m for m in said if "restarted" in m][-1].endswith("restart 4)"), said
        assert stack.gateway is not None and stack.gateway.pid == gateway_pid
        assert not any("gateway" in m for m in said)
    finally:
        stack.close()

    stack = _FlakyStack(crashes=1)
    stack.failed_starts = 2  # the restarts after the crash fail to start twice
    said.clear()
    supervisor = Supervisor(stack, Backoff(base=0.05, maximum=1.0), say=said.append)  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("restarted" in m for m in said):
            supervisor.poll()
            time.sleep(0.01)
        failures = [m for m in said if "failed" in m]
        assert len(failures) == 2 and "next try in 0.1s" in failures[0], said
        assert "next try in 0.2s" in failures[1], said
        assert said[-1].endswith("restart 3)"), said
    finally:
        stack.close()
