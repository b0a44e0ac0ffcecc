"""Errors raised by the vectorizer, each with a stable machine code and CLI exit code."""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "Cancelled",
    "CheckpointError",
    "InvalidImageError",
    "VectorizerError",
]

#: Exit code of the CLI per error code (documented in ``supersvg vectorize --help``).
EXIT_CODES: dict[str, int] = {
    "INTERNAL": 1,
    "USAGE": 2,
    "NOT_AN_IMAGE": 3,
    "TRUNCATED": 4,
    "EMPTY": 5,
    "TOO_LARGE": 6,
    "UNSUPPORTED_FORMAT": 7,
    "CHECKPOINT": 8,
    "IO": 9,
    "CANCELLED": 130,
}


class VectorizerError(Exception):
    """Base class: carries a machine ``code`` and a human ``message``."""

    code = "INTERNAL"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.code, 1)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidImageError(VectorizerError):
    """The input is not a usable image (``code`` says why)."""

    def __init__(self, code: str, message: str) -> None:
        if code not in EXIT_CODES:
            raise ValueError(f"unknown image error code {code!r}")
        super().__init__(message, code)


class CheckpointError(VectorizerError):
    """A learned model was requested but cannot be used."""

    code = "CHECKPOINT"


class Cancelled(VectorizerError):
    """Raised when the caller's ``should_cancel()`` turned true."""

    code = "CANCELLED"

    def __init__(self, message: str = "vectorization cancelled") -> None:
        super().__init__(message)
