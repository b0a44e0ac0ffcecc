"""A one-line progress counter on a terminal's stderr (nothing when stderr is not a TTY).

The datasets install stays light (numpy + pillow + resvg), so this replaces a progress-bar
dependency with the little the downloads need: a label, a count, a total when known.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_REFRESH_S = 0.2
_PREFIXES = ("", "k", "M", "G", "T")


def _scaled(n: float, unit: str) -> str:
    if unit != "B":
        return f"{int(n)}"
    i = 0
    while n >= 1000 and i < len(_PREFIXES) - 1:
        n /= 1000
        i += 1
    return f"{n:.1f}{_PREFIXES[i]}" if i else f"{int(n)}"


class Progress:
    """Count ``update(n)`` calls against an optional ``total``; ``close()`` clears the line.

    Draws only when ``enabled`` and the stream is a terminal, at most every 0.2 s.
    """

    def __init__(
        self,
        desc: str,
        *,
        total: int | None = None,
        initial: int = 0,
        unit: str = "",
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.desc, self.total, self.n, self.unit = desc, total, initial, unit
        self._drawn = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.enabled and now - self._drawn >= _REFRESH_S:
            self._drawn = now
            done = _scaled(self.n, self.unit)
            of = f"/{_scaled(self.total, self.unit)}" if self.total else ""
            self.stream.write(f"\r{self.desc}: {done}{of} {self.unit}".rstrip() + " ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
