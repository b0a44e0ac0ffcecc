"""HMAC-signed, expiring links for artifacts in the local backend (served by the gateway)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

__all__ = ["sign_artifact", "signed_path", "verify_artifact"]


def sign_artifact(key: bytes, artifact: str, expires: int) -> str:
    mac = hmac.new(key, f"{artifact}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def signed_path(key: bytes, artifact: str, ttl_s: int, now: float | None = None) -> tuple[str, int]:
    """``/api/v1/artifacts/{artifact}?expires=...&signature=...`` and its expiry time."""
    expires = int((time.time() if now is None else now) + ttl_s)
    sig = sign_artifact(key, artifact, expires)
    return f"/api/v1/artifacts/{quote(artifact)}?expires={expires}&signature={sig}", expires


def verify_artifact(
    key: bytes, artifact: str, expires: int, signature: str, now: float | None = None
) -> str | None:
    """None when valid, else the reason ("expired" or "bad signature")."""
    expected = sign_artifact(key, artifact, expires)
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "bad signature"
    if (time.time() if now is None else now) > expires:
        return "expired"
    return None
