"""supersvg.common: ULIDs and job ids, Standard Webhooks signatures, storage settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from supersvg.common.ids import is_job_id, new_job_id, ulid
from supersvg.common.storage import InvalidKeyError, StorageSettings, job_key, validate_key
from supersvg.common.webhooks import (
    WebhookVerificationError,
    new_secret,
    sign,
    signature_headers,
    verify,
)


def test_ulids_sort_by_time_and_are_valid_job_ids() -> None:
    a = ulid(1_700_000_000_000)
    b = ulid(1_700_000_000_001)
    assert len(a) == 26 and a < b
    jid = new_job_id()
    assert is_job_id(jid) and len(jid) == 30
    assert not is_job_id("job_" + "I" * 26)  # I, L, O, U are not Crockford digits
    assert not is_job_id("job_x")


def test_signature_matches_the_standard_webhooks_definition() -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    body = b'{"a":1}'
    expected = base64.b64encode(
        hmac.new(
            b"0123456789abcdef0123456789abcdef", b'msg_1.1700000000.{"a":1}', hashlib.sha256
        ).digest()
    ).decode()
    assert sign(secret, "msg_1", 1700000000, body) == "v1," + expected


def test_verify_accepts_good_and_refuses_bad() -> None:
    secret = new_secret()
    body = b'{"type":"job.completed"}'
    headers = signature_headers(secret, "msg_x", body)
    verify(secret, headers, body)
    # Several signatures (secret rotation): any match is enough.
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    verify(secret, rotated, body)
    for bad_headers, bad_body in [
        (headers, body + b" "),
        ({**headers, "webhook-id": "msg_y"}, body),
        ({**headers, "webhook-timestamp": str(int(time.time()) - 3600)}, body),
        ({k: v for k, v in headers.items() if k != "webhook-signature"}, body),
    ]:
        with pytest.raises(WebhookVerificationError):
            verify(secret, bad_headers, bad_body)
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, body)


@pytest.mark.parametrize("key", ["jobs/job_1/input", "a", "a-b/c_d.e"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize("key", ["", "/a", "a/../b", "a//b", ".hidden/x", "a/b/", "a b", "x" * 600])
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)


def test_job_key_and_storage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert job_key("job_1", "output.svg") == "jobs/job_1/output.svg"
    monkeypatch.setenv("SUPERSVG_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("SUPERSVG_S3_ENDPOINT", "minio:9000")
    monkeypatch.setenv("SUPERSVG_S3_SECURE", "true")
    s = StorageSettings.from_env()
    env = s.env()
    assert env["SUPERSVG_STORAGE_BACKEND"] == "s3"
    assert env["SUPERSVG_S3_ENDPOINT"] == "minio:9000"
    assert env["SUPERSVG_S3_SECURE"] == "true"
