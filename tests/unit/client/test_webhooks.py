"""Standard Webhooks signature verification."""

from __future__ import annotations

import base64
import json

import pytest

from supersvg.client import WebhookVerificationError, sign_webhook, verify_webhook

# The example published with the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(sig: str, msg_id: str = SPEC_ID, ts: int = SPEC_TS) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_matches_the_specification_example() -> None:
    assert sign_webhook(SPEC_BODY, SPEC_SECRET, SPEC_ID, SPEC_TS) == SPEC_SIG
    body = verify_webhook(SPEC_BODY.encode(), _headers(SPEC_SIG), SPEC_SECRET, now=SPEC_TS + 10)
    assert body == {"test": 2432232314}


def test_header_names_are_case_insensitive_and_rotation_lists_accepted() -> None:
    headers = {
        "Webhook-Id": SPEC_ID,
        "WEBHOOK-TIMESTAMP": str(SPEC_TS),
        "webhook-signature": f"v1,{base64.b64encode(b'x' * 32).decode()} v2,zzz {SPEC_SIG}",
    }
    assert verify_webhook(SPEC_BODY, headers, SPEC_SECRET, now=SPEC_TS)["test"] == 2432232314


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b, h: (b.replace(b"2432232314", b"2432232315"), h),  # tampered body
        lambda b, h: (b, {**h, "webhook-id": "msg_other"}),  # id swapped
        lambda b, h: (b, {**h, "webhook-timestamp": str(SPEC_TS + 1)}),  # timestamp shifted
        lambda b, h: (b, {**h, "webhook-signature": "v1," + SPEC_SIG[4:-4] + "AAA="}),
        lambda b, h: (b, {**h, "webhook-signature": "v2," + SPEC_SIG[3:]}),  # unknown version
        lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-signature"}),
        lambda b, h: (b, {**h, "webhook-timestamp": "yesterday"}),
    ],
)
def test_rejects_tampered_messages(mutate) -> None:  # type: ignore[no-untyped-def]
    body, headers = mutate(SPEC_BODY.encode(), _headers(SPEC_SIG))
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, SPEC_SECRET, now=SPEC_TS)


def test_rejects_wrong_secret() -> None:
    other = "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SPEC_BODY, _headers(SPEC_SIG), other, now=SPEC_TS)


def test_rejects_stale_and_future_timestamps() -> None:
    good = _headers(SPEC_SIG)
    verify_webhook(SPEC_BODY, good, SPEC_SECRET, tolerance=300, now=SPEC_TS + 300)
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify_webhook(SPEC_BODY, good, SPEC_SECRET, tolerance=300, now=SPEC_TS + 301)
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify_webhook(SPEC_BODY, good, SPEC_SECRET, tolerance=300, now=SPEC_TS - 301)


def test_round_trip_with_fresh_secret_and_raw_key() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    payload = json.dumps({"job_id": "job_1", "status": "completed"}).encode()
    sig = sign_webhook(payload, secret, "msg_1", 1_700_000_000)
    assert sig == sign_webhook(payload, key, "msg_1", 1_700_000_000)
    headers = _headers(sig, "msg_1", 1_700_000_000)
    assert verify_webhook(payload, headers, secret, now=1_700_000_001)["status"] == "completed"


def test_bad_secret_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        sign_webhook("{}", "whsec_not base64!!", "m", 1)
