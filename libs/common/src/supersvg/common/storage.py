"""Artifact store: one interface, two backends (a local folder and S3/MinIO).

Keys follow docs/contracts.md (``jobs/{job_id}/input``, ``.../output.svg``, ...). The
interface is synchronous (the minio client is); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import abc
import builtins
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic_settings import SettingsConfigDict

from supersvg.common.settings import ComponentSettings, ConfigurationError

__all__ = [
    "ArtifactNotFoundError",
    "ArtifactStore",
    "InvalidKeyError",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "StorageSettings",
    "create_store",
    "job_key",
    "validate_key",
]

OCTET = "application/octet-stream"
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")


class InvalidKeyError(ValueError):
    """The key is not a safe relative object name."""


class ArtifactNotFoundError(KeyError):
    """No object with this key."""


def validate_key(key: str) -> str:
    """Accept only plain relative keys (no ``..``, no leading slash, no odd characters)."""
    if len(key) > 512 or not _KEY_RE.match(key) or any(p in (".", "..") for p in key.split("/")):
        raise InvalidKeyError(f"invalid artifact key {key!r}")
    return key


def job_key(job_id: str, name: str) -> str:
    """``jobs/{job_id}/{name}``, validated."""
    return validate_key(f"jobs/{job_id}/{name}")


class StorageSettings(ComponentSettings):
    """The storage variables of docs/contracts.md (prefix ``SUPERSVG_``)."""

    model_config = SettingsConfigDict(env_prefix="SUPERSVG_", extra="ignore", frozen=True)

    storage_backend: Literal["local", "s3"] = "local"
    storage_root: str = ".data/artifacts"
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "supersvg"
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        """These settings as environment variables (for worker processes)."""
        return {
            "SUPERSVG_STORAGE_BACKEND": self.storage_backend,
            "SUPERSVG_STORAGE_ROOT": str(Path(self.storage_root).resolve()),
            "SUPERSVG_S3_ENDPOINT": self.s3_endpoint,
            "SUPERSVG_S3_ACCESS_KEY": self.s3_access_key,
            "SUPERSVG_S3_SECRET_KEY": self.s3_secret_key,
            "SUPERSVG_S3_BUCKET": self.s3_bucket,
            "SUPERSVG_S3_SECURE": "true" if self.s3_secure else "false",
            "SUPERSVG_S3_REGION": self.s3_region,
        }


class ArtifactStore(abc.ABC):
    """Objects by key. Writes are atomic: a reader sees the whole object or none."""

    backend: str

    @abc.abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key`` (replacing any previous object)."""

    @abc.abstractmethod
    def put_file(self, key: str, fileobj: BinaryIO, length: int, content_type: str = OCTET) -> None:
        """Store ``length`` bytes read from ``fileobj`` without loading them all in memory."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`ArtifactNotFoundError` when absent."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, sorted."""

    @abc.abstractmethod
    def list_folders(self, prefix: str) -> builtins.list[str]:
        """Names of the immediate "folders" under ``prefix`` (e.g. job ids under ``jobs/``)."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were deleted."""

    @abc.abstractmethod
    def presigned_get_url(self, key: str, expires: timedelta) -> str | None:
        """A URL that fetches the object without credentials until ``expires`` passes, or
        None when the backend cannot sign (the local folder: the gateway signs links)."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise if the store is unusable (missing bucket, unwritable folder)."""


class LocalArtifactStore(ArtifactStore):
    """A folder on the local disk (embedded mode)."""

    backend = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (it may not exist)."""
        return self.root / validate_key(key)

    def _write(self, key: str, chunks: Iterator[bytes]) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, target)  # atomic: readers never see a partial object
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._write(key, iter((data,)))

    def put_file(self, key: str, fileobj: BinaryIO, length: int, content_type: str = OCTET) -> None:
        def chunks() -> Iterator[bytes]:
            left = length
            while left > 0:
                block = fileobj.read(min(left, 1 << 20))
                if not block:
                    raise ValueError(f"stream ended {left} bytes early")
                left -= len(block)
                yield block

        self._write(key, chunks())

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root
        out = []
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                rel = path.relative_to(base).as_posix()
                if rel.startswith(prefix):
                    out.append(rel)
        return sorted(out)

    def list_folders(self, prefix: str) -> builtins.list[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for key in keys:
            self.path(key).unlink(missing_ok=True)
        # Remove the emptied job folder too (prefixes are folder-like: jobs/{id}/).
        folder = self.root / prefix.rstrip("/")
        if prefix.endswith("/") and folder.is_dir() and folder != self.root:
            shutil.rmtree(folder, ignore_errors=True)
        return len(keys)

    def presigned_get_url(self, key: str, expires: timedelta) -> str | None:
        validate_key(key)
        return None

    def check(self) -> None:
        probe = self.root / ".probe"
        probe.write_bytes(b"")
        probe.unlink()


class S3ArtifactStore(ArtifactStore):
    """An S3 bucket through the ``minio`` client (MinIO, AWS S3, any S3-compatible server)."""

    backend = "s3"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
    ) -> None:
        from minio import Minio

        if not endpoint:
            raise ConfigurationError("SUPERSVG_S3_ENDPOINT is required for the s3 backend")
        self.bucket = bucket
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.put_file(key, io.BytesIO(data), len(data), content_type)

    def put_file(self, key: str, fileobj: BinaryIO, length: int, content_type: str = OCTET) -> None:
        self.client.put_object(
            self.bucket, validate_key(key), fileobj, length, content_type=content_type
        )

    def get(self, key: str) -> bytes:
        from minio.error import S3Error

        try:
            resp = self.client.get_object(self.bucket, validate_key(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ArtifactNotFoundError(key) from None
            raise
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        try:
            self.client.stat_object(self.bucket, validate_key(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        return sorted(str(o.object_name) for o in objects)

    def list_folders(self, prefix: str) -> builtins.list[str]:
        prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
        objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=False)
        return sorted(str(o.object_name)[len(prefix) :].rstrip("/") for o in objects if o.is_dir)

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        keys = self.list(prefix)
        if keys:
            errors = list(self.client.remove_objects(self.bucket, [DeleteObject(k) for k in keys]))
            if errors:
                raise RuntimeError(f"could not delete {len(errors)} objects under {prefix}")
        return len(keys)

    def presigned_get_url(self, key: str, expires: timedelta) -> str | None:
        return str(self.client.presigned_get_object(self.bucket, validate_key(key), expires))

    def check(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            raise ConfigurationError(f"S3 bucket {self.bucket!r} does not exist")


def create_store(settings: StorageSettings | None = None) -> ArtifactStore:
    """The store the settings (or the environment) name."""
    settings = settings or StorageSettings.from_env()
    if settings.storage_backend == "s3":
        return S3ArtifactStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    return LocalArtifactStore(settings.storage_root)
