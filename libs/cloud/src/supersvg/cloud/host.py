"""What runs on the training host: the monitor report, checkpoint sync to S3, the spot
interruption watcher, and the bootstrap script (as user data or to run by hand)."""

from __future__ import annotations

import csv
import hashlib
import json
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .record import CloudError

__all__ = [
    "IMDS_URL",
    "USER_DATA_LIMIT",
    "bootstrap_script",
    "monitor_report",
    "spot_notice",
    "sync_to_s3",
    "user_data",
    "watch_spot",
]

#: EC2's limit on user data (raw, before base64).
USER_DATA_LIMIT = 16 * 1024
IMDS_URL = "http://169.254.169.254"
_LOSS_ROWS = 5


def bootstrap_script() -> str:
    """The host bootstrap (``bootstrap.sh`` shipped in this package)."""
    return resources.files("supersvg.cloud").joinpath("bootstrap.sh").read_text()


def user_data(settings: dict[str, str]) -> str:
    """The bootstrap script with ``settings`` exported at its top, for EC2 user data."""
    body = bootstrap_script()
    shebang, _, rest = body.partition("\n")
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(settings.items()) if v)
    script = f"{shebang}\n# Settings chosen by `supersvg cloud launch`:\n{exports}{rest}"
    if len(script.encode()) > USER_DATA_LIMIT:
        raise CloudError(f"user data is {len(script.encode())} bytes, over EC2's 16 KiB")
    return script


# ---------------------------------------------------------------------- monitor


def _gpu_lines() -> list[str]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ["GPU: none visible (no nvidia-smi)"]
    query = "index,name,utilization.gpu,memory.used,memory.total,temperature.gpu"
    out = subprocess.run(
        [smi, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=False, timeout=20,
    )  # fmt: skip
    if out.returncode != 0:
        return [f"GPU: nvidia-smi failed: {out.stderr.strip()}"]
    lines = []
    for row in out.stdout.strip().splitlines():
        i, name, util, used, total, temp = (c.strip() for c in row.split(","))
        lines.append(f"GPU {i} {name}: {util}% busy, {used}/{total} MiB, {temp} C")
    return lines


def monitor_report(workspace: Path, run: str, now: float | None = None) -> str:
    """GPU use, the last losses of ``metrics.csv`` and the age of ``last.pt`` of one run."""
    now = time.time() if now is None else now
    folder = workspace / "checkpoints" / run
    lines = [f"run {run} ({folder})", *_gpu_lines()]
    metrics = folder / "metrics.csv"
    if metrics.is_file():
        with open(metrics, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows:
            last = rows[-_LOSS_ROWS:]
            losses = ", ".join(f"{r.get('step', '?')}: {float(r['loss']):.4f}" for r in last)
            lines.append(f"steps: {rows[-1].get('step', '?')}; last losses (step: loss): {losses}")
        else:
            lines.append("steps: none logged yet")
    else:
        lines.append("metrics: no metrics.csv yet (training not started or still loading)")
    ckpt = folder / "last.pt"
    if ckpt.is_file():
        age = now - ckpt.stat().st_mtime
        lines.append(f"checkpoint: last.pt saved {_age(age)} ago ({ckpt.stat().st_size} bytes)")
    else:
        lines.append("checkpoint: none yet")
    log = workspace / "logs" / f"{run}.log"
    if log.is_file():
        tail = log.read_text(errors="replace").splitlines()[-3:]
        lines += ["log:", *(f"  {t}" for t in tail)]
    return "\n".join(lines)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


# ---------------------------------------------------------------------- S3 sync


def _split_s3(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise CloudError(f"expected s3://bucket/prefix, got {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise CloudError(f"no bucket in {url!r}")
    return bucket, prefix.strip("/")


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sync_to_s3(folder: Path, url: str, client: Any = None) -> tuple[int, int]:
    """Upload the files of ``folder`` that S3 lacks or holds another version of.

    Returns (uploaded, unchanged). A file is unchanged when the object's size and ETag (the
    MD5 of a single-part upload) match. Files still being written (``*.part``) are skipped.
    """
    if not folder.is_dir():
        raise CloudError(f"nothing to sync: {folder} does not exist")
    bucket, prefix = _split_s3(url)
    s3 = client or boto3.client("s3")
    uploaded = unchanged = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.endswith((".part", ".tmp")):
            continue
        key = "/".join(filter(None, [prefix, path.relative_to(folder).as_posix()]))
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            same = head["ContentLength"] == path.stat().st_size and head["ETag"].strip('"') == _md5(
                path
            )
        except ClientError:
            same = False
        if same:
            unchanged += 1
            continue
        try:
            s3.upload_file(str(path), bucket, key)
        except (ClientError, BotoCoreError, boto3.exceptions.S3UploadFailedError) as exc:
            raise CloudError(f"upload of {path} to s3://{bucket}/{key} failed: {exc}") from exc
        uploaded += 1
    return uploaded, unchanged


# ---------------------------------------------------------------------- spot watcher


def spot_notice(base_url: str = IMDS_URL, timeout: float = 2.0) -> str | None:
    """The pending spot interruption's action (``terminate``/``stop``/``hibernate``), if any.

    Asks the instance metadata service with an IMDSv2 session token.
    """
    token_req = urllib.request.Request(
        f"{base_url}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
    )
    with urllib.request.urlopen(token_req, timeout=timeout) as resp:
        token = resp.read().decode()
    req = urllib.request.Request(
        f"{base_url}/latest/meta-data/spot/instance-action",
        headers={"X-aws-ec2-metadata-token": token},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read().decode()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # no interruption scheduled
            return None
        raise
    action: str = json.loads(body).get("action", "terminate")
    return action


def watch_spot(
    on_notice: Callable[[str], int],
    *,
    base_url: str = IMDS_URL,
    interval: float = 5.0,
    max_polls: int | None = None,
    say: Callable[[str], None] = print,
) -> str | None:
    """Poll for an interruption notice; on one, call ``on_notice(action)`` once and return.

    EC2 gives two minutes' notice; polling every 5 s leaves the handler most of them.
    Metadata errors are reported and polling goes on.
    """
    polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        try:
            action = spot_notice(base_url)
        except (OSError, ValueError) as exc:
            say(f"{datetime.now(UTC):%H:%M:%S} metadata service: {exc}")
            action = None
        if action:
            say(f"{datetime.now(UTC):%H:%M:%S} spot interruption notice ({action}): stopping")
            code = on_notice(action)
            say(f"interruption handler exited with code {code}")
            return action
        time.sleep(interval)
    return None
