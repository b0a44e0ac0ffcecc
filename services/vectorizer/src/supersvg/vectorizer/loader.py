"""Load and validate input images: format by magic bytes, EXIF orientation, alpha, pixel limit.

The result is always an ``(H, W, 4)`` ``uint8`` RGBA array.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .errors import InvalidImageError

__all__ = ["ImageInput", "load_image", "sniff_format"]

ImageInput = bytes | bytearray | memoryview | str | os.PathLike[str] | Image.Image | np.ndarray

_SUPPORTED = ("PNG", "JPEG", "WEBP")

# Formats we recognise by their magic bytes but do not accept: named in the error message.
_KNOWN_OTHER: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"qoif", "QOI"),
)


def sniff_format(head: bytes) -> str | None:
    """Format name from the first bytes, or None when unrecognised."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1"):
        return "HEIC"
    for magic, name in _KNOWN_OTHER:
        if head.startswith(magic):
            return name
    stripped = head.lstrip()
    if stripped.startswith((b"<svg", b"<?xml")):
        return "SVG"
    return None


def _to_uint8_rgba(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode (16-bit, palette, CMYK, grey+alpha...) to RGBA uint8."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        # 16-bit data: scale the full range, not a clip at 255.
        scale = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(arr / scale * 255.0), 0, 255).astype(np.uint8)
        img = Image.fromarray(grey, mode="L")
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        img = Image.fromarray(grey, mode="L")
    elif mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode != "RGBA":
        img = img.convert("RGBA")
    return np.array(img, dtype=np.uint8)


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.size == 0 or arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidImageError("EMPTY", "the image has no pixels")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InvalidImageError(
            "UNSUPPORTED_FORMAT", f"array of shape {arr.shape} is not an (H, W[, 1-4]) image"
        )
    if arr.dtype == np.uint8:
        a8 = arr
    elif arr.dtype == np.uint16:
        a8 = np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InvalidImageError("UNSUPPORTED_FORMAT", "array contains NaN or infinity")
        a8 = np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)
    elif arr.dtype == np.bool_:
        a8 = arr.astype(np.uint8) * 255
    else:
        raise InvalidImageError("UNSUPPORTED_FORMAT", f"unsupported array dtype {arr.dtype}")
    c = a8.shape[2]
    if c == 1:
        a8 = np.concatenate([a8, a8, a8, np.full_like(a8, 255)], axis=2)
    elif c == 2:
        a8 = np.concatenate([a8[:, :, :1]] * 3 + [a8[:, :, 1:]], axis=2)
    elif c == 3:
        a8 = np.concatenate([a8, np.full_like(a8[:, :, :1], 255)], axis=2)
    return np.ascontiguousarray(a8)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidImageError("EMPTY", f"the image is {width}x{height} pixels")
    if width * height > max_pixels:
        raise InvalidImageError(
            "TOO_LARGE",
            f"the image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels}",
        )


def _from_pil(img: Image.Image, max_pixels: int) -> np.ndarray:
    _check_pixels(img.width, img.height, max_pixels)
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as exc:
        raise InvalidImageError("TOO_LARGE", str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        if "truncated" in text or "broken data stream" in text or "incomplete" in text.lower():
            raise InvalidImageError("TRUNCATED", f"the image data is truncated ({text})") from exc
        raise InvalidImageError("TRUNCATED", f"the image data is corrupt ({text})") from exc
    return _to_uint8_rgba(img)


def _read_source(source: Any) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    path = Path(os.fspath(source))
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidImageError("NOT_AN_IMAGE", f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InvalidImageError("NOT_AN_IMAGE", f"{path}: is a directory") from exc
    except OSError as exc:
        raise InvalidImageError("NOT_AN_IMAGE", f"{path}: cannot be read ({exc})") from exc


def load_image(source: ImageInput, *, max_pixels: int = 64_000_000) -> np.ndarray:
    """Decode ``source`` into an ``(H, W, 4)`` uint8 RGBA array, failing fast on bad input.

    Raises:
        InvalidImageError: with code EMPTY, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, TRUNCATED or
            TOO_LARGE.
    """
    if isinstance(source, np.ndarray):
        arr = _from_array(source)
        _check_pixels(arr.shape[1], arr.shape[0], max_pixels)
        return arr
    if isinstance(source, Image.Image):
        return _from_pil(source, max_pixels)
    if not isinstance(source, bytes | bytearray | memoryview | str | os.PathLike):
        raise InvalidImageError(
            "NOT_AN_IMAGE", f"cannot read an image from a {type(source).__name__}"
        )
    data = _read_source(source)
    if not data:
        raise InvalidImageError("EMPTY", "the input is empty (0 bytes)")
    fmt = sniff_format(data[:64])
    if fmt is None:
        raise InvalidImageError(
            "NOT_AN_IMAGE", "the input is not an image (unrecognised leading bytes)"
        )
    if fmt not in _SUPPORTED:
        raise InvalidImageError(
            "UNSUPPORTED_FORMAT",
            f"{fmt} input is not supported; use PNG, JPEG or WebP",
        )
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            _check_pixels(img.width, img.height, max_pixels)
            return _from_pil(img, max_pixels)
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(
            "TOO_LARGE", f"the image is over the pixel limit (decompression-bomb guard: {exc})"
        ) from exc
    except Image.UnidentifiedImageError as exc:
        # The magic bytes matched but the header is unreadable: a cut-off file.
        raise InvalidImageError(
            "TRUNCATED", f"the {fmt} header is incomplete or corrupt ({exc})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(
            "TRUNCATED", f"the {fmt} data is truncated or corrupt ({exc})"
        ) from exc
