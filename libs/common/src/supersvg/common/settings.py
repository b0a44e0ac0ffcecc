"""Settings base: every component reads its configuration from the environment only.

Each component subclasses :class:`ComponentSettings` with its own ``env_prefix``, builds it
once in its entry point (``__main__``) and passes it down; a missing required value fails at
start with a message naming the environment variable.
"""

from __future__ import annotations

import os
from typing import Any, Self

from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ComponentSettings", "ConfigurationError"]


class ConfigurationError(RuntimeError):
    """The environment does not hold a valid configuration; the message says which variable."""


_COMMON_FIELDS = ("log_level", "log_format", "otlp_endpoint")


class ComponentSettings(BaseSettings):
    """Base for a component's settings. Subclasses set ``model_config`` with an ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="SUPERSVG_", extra="ignore", frozen=True)

    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    otlp_endpoint: str | None = None  # e.g. http://otel-collector:4317; no export when unset

    @model_validator(mode="before")
    @classmethod
    def _common_variables(cls, data: Any) -> Any:
        """The shared variables (``SUPERSVG_LOG_LEVEL``, ``SUPERSVG_LOG_FORMAT``,
        ``SUPERSVG_OTLP_ENDPOINT``) apply to every component; a component's prefixed
        variable, when set, wins over them."""
        if not isinstance(data, dict):
            return data
        for field in _COMMON_FIELDS:
            value = os.environ.get(f"SUPERSVG_{field.upper()}")
            if value is not None and field not in data:
                data = {**data, field: value}
        return data

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
