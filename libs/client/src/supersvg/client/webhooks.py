"""Verify job callbacks signed the Standard Webhooks way.

The server sends three headers: ``webhook-id`` (unique per message, the same on redelivery),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: space-separated
``v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`` entries (several during a key
rotation). The shared secret is ``whsec_<base64 key>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["WebhookVerificationError", "sign_webhook", "verify_webhook"]

SECRET_PREFIX = "whsec_"


class WebhookVerificationError(ValueError):
    """The callback is not authentic, or too old/new to accept."""


def _secret_key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        return secret
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _body_bytes(payload: bytes | bytearray | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def sign_webhook(payload: bytes | str, secret: str | bytes, msg_id: str, timestamp: int) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a message."""
    content = f"{msg_id}.{timestamp}.".encode() + _body_bytes(payload)
    digest = hmac.new(_secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str:
    # Header names are case-insensitive; plain dicts from frameworks keep whatever case came.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing header {name}")


def verify_webhook(
    payload: bytes | bytearray | str,
    headers: Mapping[str, str],
    secret: str | bytes,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> Any:
    """Check a callback's signature and age; return its decoded JSON body.

    ``payload`` must be the raw request body, exactly as received (re-serialised JSON will
    not match). Rejects a timestamp more than ``tolerance`` seconds away from now in either
    direction, which bounds replays. Raises :class:`WebhookVerificationError`.
    """
    msg_id = _header(headers, "webhook-id")
    ts_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(ts_text)
    except ValueError as exc:
        raise WebhookVerificationError(f"invalid webhook-timestamp {ts_text!r}") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {current - timestamp:+.0f}s away from now "
            f"(tolerance {tolerance:g}s)"
        )
    body = _body_bytes(payload)
    expected = sign_webhook(body, secret, msg_id, timestamp).split(",", 1)[1].encode("ascii")
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        if hmac.compare_digest(expected, value.encode("ascii", "replace")):
            try:
                return json.loads(body)
            except ValueError as exc:
                raise WebhookVerificationError("signed body is not JSON") from exc
    raise WebhookVerificationError("no matching v1 signature")
