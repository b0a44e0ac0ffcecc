"""Gateway settings (environment prefix ``SUPERSVG_GATEWAY_``; see docs/service.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supersvg.common.tls import GrpcTlsSettings

__all__ = ["STATIC_DIR", "GatewaySettings"]

STATIC_DIR = Path(__file__).with_name("static")


class GatewaySettings(GrpcTlsSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERSVG_GATEWAY_", extra="ignore", frozen=True)

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    #: host:port of the scheduler's gRPC server.
    scheduler_addr: str = "127.0.0.1:50051"
    #: Deadline of each scheduler call.
    scheduler_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Largest accepted image (the whole request may exceed it by the form overhead).
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    #: Requests per minute per tenant when the tenant sets none; 0 disables the limit.
    rate_limit_per_minute: int = Field(default=1200, ge=0)
    #: A connection that has not sent a request's complete headers within this is closed.
    header_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Longest pause between two parts of a request body before a 408.
    body_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Longest time to receive a whole request body (slow uploads) before a 408.
    body_timeout_seconds: float = Field(default=300.0, gt=0)
    #: How long a successful token check is reused.
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    #: HMAC key for the local backend's artifact links; required with several replicas
    #: (a random per-process key is used when empty).
    signing_key: str = ""
    #: External base URL for artifact links (e.g. https://api.example.com); default: the
    #: request's own base URL.
    public_url: str = ""
    #: Lifetime of result URLs (presigned S3 URLs and signed local links).
    result_url_ttl_seconds: int = Field(default=3600, gt=0, le=7 * 24 * 3600)
    #: Folder served at ``/`` (index.html); default: the package's static folder.
    static_dir: str = ""
    version: str = "1.0.0"

    def static_path(self) -> Path:
        return Path(self.static_dir) if self.static_dir else STATIC_DIR
