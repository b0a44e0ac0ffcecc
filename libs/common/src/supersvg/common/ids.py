"""Identifiers: ULIDs (26 Crockford base32 characters, time-ordered) and prefixed ids."""

from __future__ import annotations

import re
import secrets
import time

__all__ = ["JOB_ID_RE", "is_job_id", "job_id_time", "new_job_id", "ulid"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
JOB_ID_RE = re.compile(r"^job_[0-9A-HJKMNP-TV-Z]{26}$")


def ulid(timestamp_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time then 80 random bits, as 26 base32 characters."""
    ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_job_id() -> str:
    return "job_" + ulid()


def is_job_id(value: str) -> bool:
    return bool(JOB_ID_RE.match(value))


def job_id_time(job_id: str) -> float:
    """Creation time (unix seconds) encoded in a job id's ULID."""
    if not is_job_id(job_id):
        raise ValueError(f"not a job id: {job_id!r}")
    ms = 0
    for ch in job_id[4:14]:
        ms = ms * 32 + _ALPHABET.index(ch)
    return ms / 1000.0
