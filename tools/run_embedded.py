#!/usr/bin/env python3
"""Start SuperSVG on one machine (``make run``): the scheduler and the gateway as processes.

Embedded defaults: job metadata in SQLite and artifacts in a folder under ``.data/``, the
local executor (workers as subprocesses), everything on 127.0.0.1, the gateway on 8080
(or the next free port). A development token is created on the first start and kept in
``.data/dev-token``. A process that dies is started again after a growing delay
(:class:`Supervisor`: 1 s, 2 s, 4 s ... at most 30 s; back to 1 s once it has run for a
minute) and the launcher says so on stderr; the other process keeps serving meanwhile.
Ctrl-C stops both processes.

This file only launches processes; it imports nothing of the services, so tests reuse
:class:`EmbeddedStack` (``tools/testing/stack.py``) to start the same stack on free ports.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from supersvg.common.backoff import Backoff

__all__ = [
    "RESTART_BACKOFF",
    "EmbeddedStack",
    "StackConfig",
    "Supervisor",
    "free_port",
    "main",
    "port_is_free",
]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    """``preferred`` if it is free, else the next free one after it (or any free port)."""
    if preferred:
        for port in range(preferred, preferred + 50):
            if port_is_free(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class StackConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    http_port: int | None = None  # None: any free port
    grpc_port: int | None = None
    #: None: SQLite in data_dir. Else a postgresql:// DSN.
    database_url: str | None = None
    #: None: a local artifact folder in data_dir. Else SUPERSVG_STORAGE_*/S3_* variables.
    storage_env: dict[str, str] | None = None
    #: Extra environment for both processes (e.g. SUPERSVG_SCHEDULER_MAX_CONCURRENCY).
    env: dict[str, str] = field(default_factory=dict)
    python: str = sys.executable
    #: Write each process's output to data_dir/logs/*.log instead of this terminal.
    log_to_files: bool = False


class EmbeddedStack:
    """The scheduler and the gateway as child processes, with restart helpers."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.gateway: subprocess.Popen[bytes] | None = None
        self.grpc_port = config.grpc_port or free_port(config.host)
        self.http_port = config.http_port or free_port(config.host)
        self._logs: list[IO[bytes]] = []
        self.secrets = self._load_secrets()

    # ------------------------------------------------------------------ configuration
    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.http_port}"

    @property
    def grpc_addr(self) -> str:
        return f"{self.config.host}:{self.grpc_port}"

    @property
    def database_url(self) -> str:
        return self.config.database_url or f"sqlite:///{self.data_dir / 'scheduler.db'}"

    @property
    def webhook_secret(self) -> str:
        return self.secrets["webhook_secret"]

    def _load_secrets(self) -> dict[str, str]:
        path = self.data_dir / "secrets.json"
        if path.exists():
            data: dict[str, str] = json.loads(path.read_text())
            return data
        data = {
            "signing_key": secrets.token_hex(32),
            "webhook_secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
        return data

    def env(self) -> dict[str, str]:
        storage = self.config.storage_env or {
            "SUPERSVG_STORAGE_BACKEND": "local",
            "SUPERSVG_STORAGE_ROOT": str(self.data_dir / "artifacts"),
        }
        return {
            **os.environ,
            **storage,
            "SUPERSVG_SCHEDULER_DATABASE_URL": self.database_url,
            "SUPERSVG_SCHEDULER_LISTEN_ADDR": self.grpc_addr,
            "SUPERSVG_SCHEDULER_EXECUTOR": "local",
            "SUPERSVG_SCHEDULER_WORKER_LOG_DIR": str(self.data_dir / "logs" / "workers"),
            "SUPERSVG_SCHEDULER_CALLBACK_SECRET": self.secrets["webhook_secret"],
            "SUPERSVG_GATEWAY_HOST": self.config.host,
            "SUPERSVG_GATEWAY_PORT": str(self.http_port),
            "SUPERSVG_GATEWAY_SCHEDULER_ADDR": self.grpc_addr,
            "SUPERSVG_GATEWAY_SIGNING_KEY": self.secrets["signing_key"],
            **self.config.env,
        }

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        out: IO[bytes] | None = None
        if self.config.log_to_files:
            (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
            out = (self.data_dir / "logs" / f"{name}.log").open("ab")
            self._logs.append(out)
        return subprocess.Popen(
            [self.config.python, *args],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )

    def start_scheduler(self, timeout: float = 30.0) -> None:
        self.scheduler = self._spawn("scheduler", ["-m", "supersvg.scheduler"])
        _wait_tcp(self.config.host, self.grpc_port, timeout, self.scheduler, "scheduler")

    def stop_scheduler(self, kill: bool = False, timeout: float = 15.0) -> None:
        _stop(self.scheduler, kill, timeout)
        self.scheduler = None

    def restart_scheduler(self, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with ``kill``) and start the scheduler again."""
        self.stop_scheduler(kill=kill)
        self.start_scheduler()

    def start_gateway(self, timeout: float = 30.0) -> None:
        self.gateway = self._spawn("gateway", ["-m", "supersvg.gateway"])
        # Ready, not just alive: the gateway reaches a serving scheduler (its first calls
        # would otherwise race the scheduler's start under load and answer 503).
        _wait_http(f"{self.base_url}/readyz", timeout, self.gateway, "gateway", ready=True)

    def create_token(
        self, tenant: str, name: str = "", rate_limit: int = 0, max_active_jobs: int = 0
    ) -> str:
        """A new API token for ``tenant`` (through the scheduler's admin CLI)."""
        args = [self.config.python, "-m", "supersvg.scheduler", "tokens", "create", "--json"]
        args += ["--tenant", tenant, "--name", name]
        if rate_limit:
            args += ["--rate-limit", str(rate_limit)]
        if max_active_jobs:
            args += ["--max-active-jobs", str(max_active_jobs)]
        out = subprocess.run(args, env=self.env(), check=True, capture_output=True, timeout=60)
        token: str = json.loads(out.stdout)["token"]
        return token

    def dev_token(self) -> str:
        """The development token, created on the first start and kept in ``dev-token``."""
        path = self.data_dir / "dev-token"
        if path.exists():
            return path.read_text().strip()
        token = self.create_token("dev", name="development")
        path.write_text(token + "\n")
        path.chmod(0o600)
        return token

    def start(self) -> None:
        self.start_scheduler()
        self.start_gateway()

    def stop(self) -> None:
        _stop(self.gateway, False, 15.0)
        self.gateway = None
        self.stop_scheduler()
        for f in self._logs:
            f.close()
        self._logs.clear()

    def failed(self) -> str | None:
        """The name of a process that exited on its own, if any."""
        for name, proc in (("scheduler", self.scheduler), ("gateway", self.gateway)):
            if proc is not None and proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}"
        return None


# Restarts wait 1 s after a crash, doubling to 30 s while the process keeps dying.
RESTART_BACKOFF = Backoff(base=1.0, maximum=30.0)


@dataclass
class _Supervised:
    name: str
    start: Callable[[], None]
    process: Callable[[], subprocess.Popen[bytes] | None]
    started_at: float
    failures: int = 0  # consecutive crashes and failed starts
    restarts: int = 0
    retry_at: float | None = None  # set while the process is down


class Supervisor:
    """Restarts the stack's processes when they die, with a :class:`Backoff`, and says so.

    A process that ran ``stable_after`` seconds before it died starts again from the
    backoff's first delay.

    Call :meth:`poll` periodically from the launcher's loop; a restart blocks until the
    process is up again (or its start fails, which schedules the next try).
    """

    def __init__(
        self,
        stack: EmbeddedStack,
        backoff: Backoff = RESTART_BACKOFF,
        stable_after: float = 60.0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.backoff = backoff
        self.stable_after = stable_after
        self.say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
        now = time.monotonic()
        self.items = [
            _Supervised("scheduler", stack.start_scheduler, lambda: stack.scheduler, now),
            _Supervised("gateway", stack.start_gateway, lambda: stack.gateway, now),
        ]

    def poll(self) -> None:
        for item in self.items:
            now = time.monotonic()
            proc = item.process()
            if item.retry_at is None:
                if proc is None or proc.poll() is None:
                    continue
                if now - item.started_at >= self.stable_after:
                    item.failures = 0
                delay = self._schedule(item, now)
                self.say(
                    f"warning: {item.name} exited with {_exit_reason(proc.returncode)}; "
                    f"restarting it in {delay:g}s"
                )
            elif now >= item.retry_at:
                item.restarts += 1
                try:
                    item.start()
                except (RuntimeError, TimeoutError, OSError) as exc:
                    delay = self._schedule(item, time.monotonic())
                    self.say(f"warning: {item.name} restart {item.restarts} failed: {exc}; "
                             f"next try in {delay:g}s")  # fmt: skip
                    continue
                item.retry_at, item.started_at = None, time.monotonic()
                pid = getattr(item.process(), "pid", "?")
                self.say(f"{item.name} restarted (pid {pid}, restart {item.restarts})")

    def _schedule(self, item: _Supervised, now: float) -> float:
        item.failures += 1
        delay = self.backoff.delay(item.failures)
        item.retry_at = now + delay
        return delay


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def _stop(proc: subprocess.Popen[bytes] | None, kill: bool, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_tcp(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes], name: str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{name} did not listen on {host}:{port} within {timeout}s")


def _wait_http(
    url: str, timeout: float, proc: subprocess.Popen[bytes], name: str, ready: bool = False
) -> None:
    """Poll ``url`` until it answers (with ``ready``: until it answers 2xx)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} while starting")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            if not ready:
                return
            time.sleep(0.1)
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer {url} within {timeout}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=".data", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default=8080, type=int, help="gateway port (next free if taken)")
    parser.add_argument("--grpc-port", default=50051, type=int)
    parser.add_argument("--workers", default=None, type=int, help="worker processes at once")
    args = parser.parse_args(argv)
    extra = {}
    if args.workers:
        extra["SUPERSVG_SCHEDULER_MAX_CONCURRENCY"] = str(args.workers)
    http_port = free_port(args.host, args.port)
    stack = EmbeddedStack(
        StackConfig(
            data_dir=args.data_dir,
            host=args.host,
            http_port=http_port,
            grpc_port=free_port(args.host, args.grpc_port),
            env=extra,
        )
    )
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start_scheduler()
        token = stack.dev_token()
        stack.start_gateway()
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    if http_port != args.port:
        print(f"note: port {args.port} is taken; using {http_port}", file=sys.stderr)
    url = stack.base_url
    print(
        f"\nSuperSVG is running at {url}/  (API docs: {url}/api/v1/docs)\n"
        f"data: {stack.data_dir}\n"
        f"development token: {token}\n\n"
        "Try it:\n"
        f"  curl -s -H 'Authorization: Bearer {token}' \\\n"
        f"       -F image=@your-image.png -F 'config={{\"max_paths\": 64}}' \\\n"
        f"       {url}/api/v1/vectorize/jobs\n"
        f"  curl -s -H 'Authorization: Bearer {token}' {url}/api/v1/vectorize/jobs/<job_id>\n\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    supervisor = Supervisor(stack)
    while not stopping:
        supervisor.poll()
        time.sleep(0.5)
    print("stopping...", file=sys.stderr)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
