"""Real servers for tests, each started as a process on a free loopback port."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from minio import Minio

from supersvg.common.storage import S3ArtifactStore

__all__ = ["S3Server", "free_port", "start_s3_server", "wait_http"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers any HTTP status, or fail with the reason."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server process exited with {proc.returncode} before {url} answered"
            )
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


@dataclasses.dataclass
class S3Server:
    """A moto S3 server process. Credentials are arbitrary but fixed (moto accepts any)."""

    host: str
    port: int
    proc: subprocess.Popen[bytes] | None
    access_key: str = "testing-access-key"
    secret_key: str = "testing-secret-key"
    region: str = "us-east-1"
    bucket: str = ""

    @property
    def endpoint(self) -> str:
        """host:port, the form the minio client takes."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
        )

    def with_bucket(self, bucket: str) -> S3Server:
        return dataclasses.replace(self, bucket=bucket)

    def store(self) -> S3ArtifactStore:
        """The product's artifact store on this bucket."""
        return S3ArtifactStore(
            self.endpoint, self.access_key, self.secret_key, self.bucket, region=self.region
        )

    def storage_env(self) -> dict[str, str]:
        """The storage variables (docs/contracts.md) of a process using this bucket."""
        return {
            "SUPERSVG_STORAGE_BACKEND": "s3",
            "SUPERSVG_S3_ENDPOINT": self.endpoint,
            "SUPERSVG_S3_ACCESS_KEY": self.access_key,
            "SUPERSVG_S3_SECRET_KEY": self.secret_key,
            "SUPERSVG_S3_BUCKET": self.bucket,
            "SUPERSVG_S3_SECURE": "false",
            "SUPERSVG_S3_REGION": self.region,
        }

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        """Stop and start again on the same port (objects are kept only in memory: lost)."""
        self.stop()
        self.proc = _spawn_moto(self.port)
        wait_http(f"{self.url}/", proc=self.proc)


def _spawn_moto(port: int) -> subprocess.Popen[bytes]:
    moto = Path(sys.executable).with_name("moto_server")
    cmd = [str(moto)] if moto.exists() else [sys.executable, "-m", "moto.server"]
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    return subprocess.Popen(
        [*cmd, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def start_s3_server(port: int, workdir: Path) -> S3Server:
    """Start moto's S3 server on 127.0.0.1:``port`` and wait until it answers."""
    del workdir  # moto keeps state in memory; the argument keeps the call site uniform
    proc = _spawn_moto(port)
    wait_http(f"http://127.0.0.1:{port}/", proc=proc)
    return S3Server(host="127.0.0.1", port=port, proc=proc)


PG_ADMIN_DSN = os.environ.get("SUPERSVG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def pg_admin(sql: str) -> None:
    """Run one statement as the PostgreSQL admin (create and drop test databases)."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
