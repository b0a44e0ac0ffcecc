"""Images for the vectorizer tests, built in memory (no files, no network)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw


def shapes_image(size: int = 96, seed: int = 0) -> np.ndarray:
    """Opaque flat-colour scene: background, rectangles, ellipses, a triangle."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), (235, 230, 220))
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.integers(0, size * 3 // 4, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        col = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            d.rectangle([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=col)
        else:
            d.ellipse([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=col)
    d.polygon([(5, size - 5), (size // 2, size // 2), (size - 5, size - 10)], fill=(20, 40, 200))
    return np.asarray(img)


def photo_image(size: int = 80) -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    return (resize(data.chelsea(), (size, size), anti_aliasing=True) * 255).astype(np.uint8)


def encode(arr_or_img: np.ndarray | Image.Image, fmt: str, **kw: object) -> bytes:
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def shapes() -> np.ndarray:
    return shapes_image()


@pytest.fixture
def photo() -> np.ndarray:
    return photo_image()


@pytest.fixture
def png_bytes() -> Callable[..., bytes]:
    return encode
