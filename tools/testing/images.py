"""Small test images with a few flat shapes (quick to vectorize)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw


def _shapes(width: int, height: int) -> Image.Image:
    img = Image.new("RGB", (width, height), (248, 246, 240))
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.1, height * 0.1, width * 0.6, height * 0.6), fill=(210, 50, 40))
    draw.rectangle((width * 0.45, height * 0.4, width * 0.9, height * 0.9), fill=(40, 90, 200))
    return img


def shapes_png(path: Path, width: int, height: int) -> Path:
    _shapes(width, height).save(path)
    return path


def shapes_png_bytes(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    _shapes(width, height).save(buf, "PNG")
    return buf.getvalue()
