"""The embedded stack (scheduler + gateway as processes) on free loopback ports, for tests.

    stack = start_stack(tmp_path)                     # SQLite + local artifacts
    stack = start_stack(tmp_path, postgres_dsn=dsn, s3=s3)   # PostgreSQL + S3 backends
    stack.base_url, stack.token, stack.tokens["tenant-b"], stack.new_token("t", rate_limit=5)
    stack.restart_scheduler(kill=True)
    stack.stop()

It launches the same processes as ``make run`` (tools/run_embedded.py); process output goes
to ``<data_dir>/logs/{scheduler,gateway}.log`` and worker output to ``logs/workers/``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tools.run_embedded import EmbeddedStack, StackConfig

__all__ = ["Stack", "running_stack", "start_stack"]


@dataclass
class Stack:
    """A running stack: URLs, tokens per tenant, and process controls."""

    embedded: EmbeddedStack
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.embedded.base_url

    @property
    def grpc_addr(self) -> str:
        return self.embedded.grpc_addr

    @property
    def token(self) -> str:
        """The first tenant's token."""
        return next(iter(self.tokens.values()))

    @property
    def data_dir(self) -> Path:
        return self.embedded.data_dir

    @property
    def webhook_secret(self) -> str:
        return self.embedded.webhook_secret

    @property
    def signing_key(self) -> str:
        return self.embedded.secrets["signing_key"]

    def headers(self, tenant: str | None = None) -> dict[str, str]:
        token = self.tokens[tenant] if tenant else self.token
        return {"Authorization": f"Bearer {token}"}

    def new_token(self, tenant: str, rate_limit: int = 0, max_active_jobs: int = 0) -> str:
        token = self.embedded.create_token(tenant, "test", rate_limit, max_active_jobs)
        self.tokens.setdefault(tenant, token)
        return token

    def restart_scheduler(self, kill: bool = False) -> None:
        self.embedded.restart_scheduler(kill=kill)

    def stop_scheduler(self, kill: bool = False) -> None:
        self.embedded.stop_scheduler(kill=kill)

    def start_scheduler(self) -> None:
        self.embedded.start_scheduler()

    def submit(self, client: httpx.Client, config: Mapping[str, Any], image: bytes) -> str:
        """Submit ``image`` with ``config`` through the REST API; returns the job id."""
        r = client.post(
            f"{self.base_url}/api/v1/vectorize/jobs",
            files={"image": ("in.png", image)},
            data={"config": json.dumps(dict(config))},
            headers=self.headers(),
        )
        assert r.status_code == 202, r.text
        return str(r.json()["job_id"])

    def log(self, name: str) -> str:
        """A process's output so far (``scheduler`` or ``gateway``)."""
        path = self.data_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def worker_logs(self, job_id: str) -> str:
        folder = self.data_dir / "logs" / "workers"
        return "".join(p.read_text(errors="replace") for p in sorted(folder.glob(f"{job_id}.*")))

    def stop(self) -> None:
        self.embedded.stop()


def start_stack(
    data_dir: Path,
    *,
    postgres_dsn: str | None = None,
    s3: Any = None,
    env: Mapping[str, str] | None = None,
    tenants: tuple[str, ...] = ("tenant-a", "tenant-b"),
) -> Stack:
    """Start scheduler + gateway on free ports with a token per tenant in ``tenants``.

    ``s3`` is the conftest ``s3`` fixture (endpoint, keys, bucket). ``env`` adds
    environment for both processes (e.g. ``SUPERSVG_SCHEDULER_MAX_CONCURRENCY``).
    """
    storage = s3.storage_env() if s3 is not None else None
    base_env = {
        "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "2",
        "SUPERSVG_DEVICE": "cpu",
        "SUPERSVG_SCHEDULER_WORKER_DEVICE": "cpu",
    }
    embedded = EmbeddedStack(
        StackConfig(
            data_dir=data_dir,
            database_url=postgres_dsn,
            storage_env=storage,
            env={**base_env, **dict(env or {})},
            log_to_files=True,
        )
    )
    stack = Stack(embedded)
    try:
        embedded.start_scheduler()
        for tenant in tenants:
            stack.new_token(tenant)
        embedded.start_gateway()
    except BaseException:
        embedded.stop()
        raise
    return stack


@contextlib.contextmanager
def running_stack(data_dir: Path, **kwargs: Any) -> Iterator[Stack]:
    stack = start_stack(data_dir, **kwargs)
    try:
        yield stack
    finally:
        stack.stop()
