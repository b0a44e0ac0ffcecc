"""Retry delays: the one exponential backoff rule the services share.

The operator (failed attempts), the scheduler (callback deliveries, the VectorizeJob watch),
the worker (final progress report) and the embedded supervisor all wait
``base * factor**(n-1)`` seconds after the n-th consecutive failure, capped at ``maximum``.
The standalone distributions (client, datasets, cloud) install without this package and keep
their own loop; the client adds full jitter because many clients retry at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]

# 2**64 already exceeds any cap; larger exponents would only overflow.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class Backoff:
    """Delay after the n-th consecutive failure: ``base * factor**(n-1)``, at most ``maximum``.

    ``jitter`` draws the delay uniformly from ``[0, delay]`` ("full jitter"), which spreads
    retries of many callers that failed together.
    """

    base: float
    maximum: float
    factor: float = 2.0
    jitter: bool = False

    def __post_init__(self) -> None:
        if self.base < 0 or self.maximum < 0:
            raise ValueError("backoff times must be >= 0")
        if self.factor < 1:
            raise ValueError("backoff factor must be >= 1")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 failures: no wait)."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, _MAX_EXPONENT)
        cap = min(self.maximum, self.base * self.factor**exponent)
        return random.uniform(0.0, cap) if self.jitter else cap  # spread, not security
