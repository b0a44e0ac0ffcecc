"""Python client for the SuperSVG REST API: submit images, follow jobs, fetch SVGs.

>>> from supersvg.client import Client
>>> with Client("http://127.0.0.1:8080", token="...") as api:  # doctest: +SKIP
...     job = api.submit("photo.png", max_paths=128)
...     api.wait(job.job_id, timeout=300)
...     api.download_svg(job.job_id, "photo.svg")
"""

from supersvg.client._core import RetryPolicy
from supersvg.client.async_client import AsyncClient
from supersvg.client.client import Client, ProgressCallback
from supersvg.client.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    SuperSVGError,
    TransportFailed,
    Unauthenticated,
    Unavailable,
    Unprocessable,
    WaitTimeout,
)
from supersvg.client.models import TERMINAL_STATUSES, Job, JobResult
from supersvg.client.webhooks import WebhookVerificationError, sign_webhook, verify_webhook

__all__ = [
    "TERMINAL_STATUSES",
    "AsyncClient",
    "Client",
    "Conflict",
    "InvalidRequest",
    "Job",
    "JobResult",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProgressCallback",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "SuperSVGError",
    "TransportFailed",
    "Unauthenticated",
    "Unavailable",
    "Unprocessable",
    "WaitTimeout",
    "WebhookVerificationError",
    "sign_webhook",
    "verify_webhook",
]
