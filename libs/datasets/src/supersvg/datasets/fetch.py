"""Downloads and files that are never left half-written.

Every file is written to ``<name>.part``, flushed with ``fsync`` and renamed into place, so
a file under its final name is always complete. Downloads resume from an existing
``.part`` with an HTTP ``Range`` request; a dropped connection is retried from where it
stopped. Network and disk failures raise :class:`DatasetError` with the URL or path.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .progress import Progress

__all__ = [
    "EXIT_DATASET",
    "DatasetError",
    "Manifest",
    "atomic_open",
    "download",
    "fetch_json",
    "file_sha256",
    "verify_integrity",
    "write_atomic",
]

_CHUNK = 1 << 16
_USER_AGENT = "supersvg-datasets/0.1"


#: Exit code of the ``datasets`` command for a :class:`DatasetError` (the same number as
#: the vectorizer CLI's ``IO`` code, so scripts see one meaning whichever command ran).
EXIT_DATASET = 9


class DatasetError(Exception):
    """A dataset could not be fetched or written (network, disk or checksum)."""

    code = "IO"
    exit_code = EXIT_DATASET

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _disk_error(path: Path, exc: OSError) -> DatasetError:
    why = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return DatasetError(f"cannot write {path}: {why}")


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is flushed (POSIX).
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path.part`` for writing; on success fsync and rename it to ``path``."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(part, "wb")  # noqa: SIM115 - closed below on every path
    except OSError as exc:
        raise _disk_error(path, exc) from exc
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(part, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        fh.close()
        part.unlink(missing_ok=True)
        raise _disk_error(path, exc) from exc
    except BaseException:
        fh.close()
        part.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically; return its sha256."""
    with atomic_open(path) as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_integrity(path: Path, integrity: str) -> None:
    """Check an SRI string (``sha512-<base64>``, as npm's ``dist.integrity``)."""
    algo, _, want = integrity.strip().split(" ")[0].partition("-")
    if algo not in ("sha512", "sha384", "sha256", "sha1"):
        raise DatasetError(f"unsupported integrity algorithm {algo!r} for {path}")
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    got = base64.b64encode(h.digest()).decode()
    if got != want:
        raise DatasetError(f"integrity mismatch for {path}: expected {algo}-{want}, got {got}")


def _open(url: str, headers: dict[str, str], timeout: float) -> http.client.HTTPResponse:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, **headers})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            raise
        raise DatasetError(f"GET {url} failed: HTTP {exc.code} {exc.reason}") from exc
    return resp  # type: ignore[no-any-return]


def fetch_json(url: str, *, timeout: float = 30.0) -> Any:
    """GET a JSON document (registry metadata)."""
    _check_scheme(url)
    try:
        with _open(url, {"Accept": "application/json"}, timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"GET {url} failed: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"GET {url}: not JSON ({exc})") from exc


def _check_scheme(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise DatasetError(f"only http(s) URLs can be downloaded, got {url!r}")


def _content_range_total(value: str | None) -> int | None:
    # "bytes 100-199/1000" or "bytes */1000"
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def download(
    url: str,
    dest: Path,
    *,
    limit: int | None = None,
    retries: int = 3,
    timeout: float = 30.0,
    progress: bool = True,
    desc: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); return ``dest``.

    ``limit`` fetches only the first ``limit`` bytes (a ``Range`` request; a server that
    ignores ranges is read until ``limit``). A dropped connection is retried ``retries``
    times, each continuing where the last stopped; after that the ``.part`` file stays for
    the next run to resume.
    """
    _check_scheme(url)
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_error(dest, exc) from exc
    attempt = 0
    while True:
        try:
            _download_once(url, part, limit=limit, timeout=timeout, progress=progress, desc=desc)
            break
        except _Transient as exc:
            attempt += 1
            if attempt > retries:
                raise DatasetError(
                    f"download of {url} failed after {attempt} attempts: {exc.args[0]} "
                    f"(partial data kept in {part}; re-run to resume)"
                ) from exc
            time.sleep(min(0.2 * 2**attempt, 5.0))
    try:
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, dest)
        _fsync_dir(dest.parent)
    except OSError as exc:
        raise _disk_error(dest, exc) from exc
    return dest


class _Transient(Exception):
    """A failure worth retrying (connection dropped, timeout, short body)."""


def _download_once(
    url: str, part: Path, *, limit: int | None, timeout: float, progress: bool, desc: str | None
) -> None:
    have = part.stat().st_size if part.exists() else 0
    if limit is not None and have >= limit:
        if have > limit:
            with open(part, "rb+") as trunc:
                trunc.truncate(limit)
        return
    headers: dict[str, str] = {}
    if have or limit is not None:
        end = "" if limit is None else str(limit - 1)
        headers["Range"] = f"bytes={have}-{end}"
    try:
        resp = _open(url, headers, timeout)
    except urllib.error.HTTPError as exc:  # 416: nothing left to send
        total = _content_range_total(exc.headers.get("Content-Range"))
        if total is not None and total == have:
            return
        part.unlink(missing_ok=True)  # our partial file does not match the server's
        raise _Transient(f"HTTP 416 for range from {have}") from exc
    except DatasetError:
        raise
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(f"cannot connect: {exc}") from exc
    with resp:
        if resp.status == 206:
            start = _content_range_start(resp.headers.get("Content-Range"))
            if start != have:
                raise _Transient(f"server resumed at byte {start}, expected {have}")
            mode = "ab"
            remaining = resp.headers.get("Content-Length")
            total = have + int(remaining) if remaining and remaining.isdigit() else None
        else:
            # The server ignored the range: start over.
            mode, have = "wb", 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if limit is not None:
            total = limit if total is None else min(total, limit)
        try:
            fh: IO[bytes] = open(part, mode)  # noqa: SIM115 - closed in finally
        except OSError as exc:
            raise _disk_error(part, exc) from exc
        bar = Progress(
            desc or part.name.removesuffix(".part"),
            total=total,
            initial=have,
            unit="B",
            enabled=progress,
        )
        got = have
        try:
            while limit is None or got < limit:
                want = _CHUNK if limit is None else min(_CHUNK, limit - got)
                try:
                    block = resp.read(want)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Transient(f"connection lost at byte {got}: {exc}") from exc
                if not block:
                    break
                try:
                    fh.write(block)
                except OSError as exc:
                    raise _disk_error(part, exc) from exc
                got += len(block)
                bar.update(len(block))
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()
            bar.close()
    if total is not None and got < total:
        raise _Transient(f"connection closed at byte {got} of {total}")


def _content_range_start(value: str | None) -> int:
    if not value or not value.startswith("bytes "):
        return -1
    span = value[6:].split("/", 1)[0]
    first = span.split("-", 1)[0]
    return int(first) if first.isdigit() else -1


@dataclass
class Manifest:
    """``manifest.json`` of one dataset: what was fetched and the sha256 of every file."""

    path: Path
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    complete: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            # A manifest we cannot read is rebuilt: the files are verified again anyway.
            del exc
            return cls(path)
        return cls(
            path,
            sources=dict(data.get("sources", {})),
            files=dict(data.get("files", {})),
            complete=dict(data.get("complete", {})),
        )

    def save(self) -> None:
        body = {
            "sources": self.sources,
            "complete": self.complete,
            "files": dict(sorted(self.files.items())),
        }
        write_atomic(self.path, (json.dumps(body, indent=1) + "\n").encode())

    def root(self) -> Path:
        return self.path.parent

    def record(self, rel: str, sha256: str) -> None:
        self.files[rel] = sha256

    def verify(self, rel: str) -> bool:
        """True when ``rel`` exists and matches its recorded sha256."""
        want = self.files.get(rel)
        target = self.root() / rel
        if want is None or not target.is_file():
            return False
        return file_sha256(target) == want

    def verify_group(self, prefix: str) -> bool:
        """True when the group was finished and every file recorded under it checks out."""
        if not self.complete.get(prefix):
            return False
        rels = [r for r in self.files if r.startswith(prefix + "/")]
        return bool(rels) and all(self.verify(r) for r in rels)

    def drop_group(self, prefix: str) -> None:
        self.complete.pop(prefix, None)
        for rel in [r for r in self.files if r.startswith(prefix + "/")]:
            del self.files[rel]
