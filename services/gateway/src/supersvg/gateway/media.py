"""Image type detection by content (magic bytes), never by name or declared type."""

from __future__ import annotations

__all__ = ["sniff_image_type"]


def sniff_image_type(head: bytes) -> str | None:
    """``image/png``, ``image/jpeg`` or ``image/webp`` from the first bytes, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
