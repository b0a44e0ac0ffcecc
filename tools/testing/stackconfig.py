"""Configuration of the client tests' stack, shared by the fixture and the tests."""

from __future__ import annotations

#: Upload limit of this stack, small so that the 413 test sends little data.
MAX_UPLOAD_BYTES = 200_000

STACK_ENV = {
    # The webhook test's receiver listens on loopback.
    "SUPERSVG_SCHEDULER_CALLBACK_ALLOW_PRIVATE": "true",
    "SUPERSVG_SCHEDULER_CALLBACK_BACKOFF_SECONDS": "0.3",
    "SUPERSVG_SCHEDULER_CANCEL_GRACE_SECONDS": "2",
    "SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
}
