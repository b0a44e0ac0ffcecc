"""Settings base: every component reads its configuration from the environment only.

Each component subclasses :class:`ComponentSettings` with its own ``env_prefix`` and builds
it once through a cached ``get_settings()``; a missing required value fails at start with a
message naming the environment variable.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ComponentSettings", "ConfigurationError"]


class ConfigurationError(RuntimeError):
    """The environment does not hold a valid configuration; the message says which variable."""


class ComponentSettings(BaseSettings):
    """Base for a component's settings. Subclasses set ``model_config`` with an ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="SUPERSVG_", extra="ignore", frozen=True)

    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    otlp_endpoint: str | None = None  # e.g. http://otel-collector:4317; no export when unset

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Build from the environment, turning validation errors into a readable failure."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            prefix = str(cls.model_config.get("env_prefix", ""))
            problems = []
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"])
                problems.append(f"{prefix}{field.upper()}: {err['msg']}")
            raise ConfigurationError(
                f"invalid configuration for {cls.__name__}: " + "; ".join(problems)
            ) from None
