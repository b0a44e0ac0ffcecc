"""Certificate files for mutual TLS on the internal gRPC links, reloaded on rotation.

The settings (``tls_*``), the file set and a watcher that notices a rotation; the gRPC side
(server credentials, reloading client channels) is in :mod:`supersvg.common.grpc`. Files are
re-read when their ``stat`` changes (Kubernetes swaps a mounted Secret's files atomically),
and a new set is only used once the key matches the certificate, so a rotation caught
half-written keeps the previous set. No gRPC import here: settings modules import this.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pydantic import model_validator

from supersvg.common.settings import ComponentSettings

__all__ = [
    "CA_FILE_NAME",
    "CERT_FILE_NAME",
    "KEY_FILE_NAME",
    "CertificateWatcher",
    "GrpcTlsSettings",
    "TlsFiles",
    "TlsMaterial",
    "TlsReloadError",
]

log = logging.getLogger("supersvg.tls")

#: File names inside a mounted certificate Secret (cert-manager's and ``kubernetes.io/tls``).
CA_FILE_NAME = "ca.crt"
CERT_FILE_NAME = "tls.crt"
KEY_FILE_NAME = "tls.key"


class TlsReloadError(RuntimeError):
    """The certificate files cannot be read or do not form a usable set."""


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes of one certificate set: the CA that peers must chain to, our chain and key."""

    ca: bytes
    cert: bytes
    key: bytes


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the CA bundle, the certificate chain and its private key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_dir(cls, directory: str | Path) -> Self:
        """The three files of a mounted certificate Secret."""
        d = Path(directory)
        return cls(d / CA_FILE_NAME, d / CERT_FILE_NAME, d / KEY_FILE_NAME)

    def stamp(self) -> tuple[tuple[int, int, int], ...]:
        """Changes whenever one of the files is replaced or rewritten (follows symlinks)."""
        out = []
        for path in (self.ca, self.cert, self.key):
            st = path.stat()
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def read(self) -> TlsMaterial:
        """Read and check the set; :class:`TlsReloadError` when it is missing or inconsistent."""
        try:
            material = TlsMaterial(
                self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()
            )
        except OSError as exc:
            raise TlsReloadError(f"cannot read certificate files: {exc}") from None
        _check(material)
        return material


def _check(material: TlsMaterial) -> None:
    """The key belongs to the certificate and the CA bundle parses (OpenSSL through ``ssl``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(cadata=material.ca.decode("ascii"))
        # load_cert_chain reads files only: a private temporary folder, removed at once.
        with tempfile.TemporaryDirectory(prefix="supersvg-tls-") as tmp:
            cert, key = Path(tmp, "c.pem"), Path(tmp, "k.pem")
            cert.write_bytes(material.cert)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(material.key)
            ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        raise TlsReloadError(f"certificate files do not form a valid set: {exc}") from None


class CertificateWatcher:
    """Holds the current set and answers, cheaply and thread-safely, whether it changed."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        try:
            self._stamp = files.stamp()
        except OSError as exc:
            raise TlsReloadError(f"cannot read certificate files: {exc}") from None
        self.current = files.read()

    def poll(self) -> TlsMaterial | None:
        """A new, valid set when the files changed since the last call; else None."""
        with self._lock:
            try:
                stamp = self.files.stamp()
            except OSError:
                return None  # mid-swap; the next poll sees the complete set
            if stamp == self._stamp:
                return None
            try:
                material = self.files.read()
            except TlsReloadError as exc:
                # Keep serving with the previous set; try again on the next poll.
                log.warning("certificate reload skipped", extra={"reason": str(exc)})
                return None
            self._stamp = stamp
            if material == self.current:
                return None
            self.current = material
            log.info("certificates reloaded", extra={"cert": str(self.files.cert)})
            return material


class GrpcTlsSettings(ComponentSettings):
    """Settings base of a gRPC component: optional mutual TLS (all three paths, or none).

    The fields take the component's prefix, e.g. ``SUPERSVG_SCHEDULER_TLS_CA_FILE``.
    """

    #: PEM bundle of the CA(s) that the peer's certificate must chain to; empty: plaintext.
    tls_ca_file: str = ""
    #: PEM certificate chain presented to the peer.
    tls_cert_file: str = ""
    #: PEM private key of that certificate.
    tls_key_file: str = ""

    @model_validator(mode="after")
    def _all_or_none(self) -> Self:
        given = [bool(p) for p in (self.tls_ca_file, self.tls_cert_file, self.tls_key_file)]
        if any(given) and not all(given):
            raise ValueError("tls_ca_file, tls_cert_file and tls_key_file go together")
        return self

    def tls_files(self) -> TlsFiles | None:
        if not self.tls_ca_file:
            return None
        return TlsFiles(Path(self.tls_ca_file), Path(self.tls_cert_file), Path(self.tls_key_file))
