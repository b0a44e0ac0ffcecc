"""Per-tenant token buckets (in process: each gateway replica limits on its own)."""

from __future__ import annotations

import math
import threading
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """``rate`` requests per minute with a burst of ``rate``; ``check`` -> seconds to wait."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, tenant: str, per_minute: int) -> float:
        """Take one token; 0.0 when allowed, else the seconds until one is available."""
        if per_minute <= 0:
            return 0.0
        now = self._clock()  # type: ignore[operator]
        refill = per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(tenant, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * refill)
            if tokens >= 1.0:
                self._buckets[tenant] = (tokens - 1.0, now)
                return 0.0
            self._buckets[tenant] = (tokens, now)
            return (1.0 - tokens) / refill

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
