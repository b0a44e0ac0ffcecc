"""Input decoding and validation: formats, orientation, alpha, bit depth, bad input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from supersvg.vectorizer import InvalidImageError
from supersvg.vectorizer.loader import load_image, sniff_format

from .conftest import encode, shapes_image


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` with a tiny (invalid) IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def test_png_rgb_and_rgba() -> None:
    arr = shapes_image(40)
    out = load_image(encode(arr, "PNG"))
    assert out.shape == (40, 40, 4) and out.dtype == np.uint8
    assert np.array_equal(out[..., :3], arr) and (out[..., 3] == 255).all()
    rgba = np.dstack([arr, np.full((40, 40), 255, np.uint8)])
    rgba[:10] = 0
    out = load_image(encode(rgba, "PNG"))
    assert (out[:10, :, 3] == 0).all() and (out[10:, :, 3] == 255).all()


def test_jpeg_exif_orientation_is_applied() -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # white left half
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = encode(img, "JPEG", exif=exif.tobytes(), quality=95)
    out = load_image(data)
    assert out.shape[:2] == (40, 20)  # rotated to portrait
    assert out[:15, :, 0].mean() > 200 and out[25:, :, 0].mean() < 60


def test_jpeg_cmyk_and_progressive() -> None:
    arr = shapes_image(32)
    cmyk = Image.fromarray(arr).convert("CMYK")
    out = load_image(encode(cmyk, "JPEG", quality=95))
    assert out.shape == (32, 32, 4)
    assert np.abs(out[..., :3].astype(int) - arr.astype(int)).mean() < 12
    prog = load_image(encode(arr, "JPEG", progressive=True, quality=95))
    assert np.abs(prog[..., :3].astype(int) - arr.astype(int)).mean() < 8


def test_webp_grayscale_palette_16bit() -> None:
    arr = shapes_image(32)
    webp = load_image(encode(arr, "WEBP", lossless=True))
    assert np.array_equal(webp[..., :3], arr)
    grey = load_image(encode(Image.fromarray(arr).convert("L"), "PNG"))
    assert np.array_equal(grey[..., 0], grey[..., 1])
    pal = Image.fromarray(arr).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.info["transparency"] = 0
    out = load_image(encode(pal, "PNG", transparency=0))
    assert (out[..., 3] == 0).any() and (out[..., 3] == 255).any()
    ramp = (np.arange(64, dtype=np.uint16)[None, :] * 1040).repeat(4, 0)
    out16 = load_image(encode(Image.fromarray(ramp), "PNG"))
    # 16-bit values are scaled, not clipped: the top of the ramp is near white.
    assert out16[0, -1, 0] >= 250 and out16[0, 0, 0] == 0 and out16[0, 32, 0] in range(125, 135)


def test_arrays_and_pil_images() -> None:
    arr = shapes_image(16)
    assert load_image(arr).shape == (16, 16, 4)
    assert load_image(arr[..., 0]).shape == (16, 16, 4)
    assert load_image(arr.astype(np.float32) / 255.0)[..., :3].max() == arr.max()
    assert load_image(Image.fromarray(arr)).shape == (16, 16, 4)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "EMPTY"),
        (b"hello, world, this is text", "NOT_AN_IMAGE"),
        (b"GIF89a" + b"\x00" * 32, "UNSUPPORTED_FORMAT"),
        (b"BM" + b"\x00" * 64, "UNSUPPORTED_FORMAT"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "UNSUPPORTED_FORMAT"),
    ],
)
def test_bad_bytes(data: bytes, code: str) -> None:
    with pytest.raises(InvalidImageError) as err:
        load_image(data)
    assert err.value.code == code
    assert err.value.message


def test_truncated_png_and_jpeg() -> None:
    arr = shapes_image(64)
    for fmt in ("PNG", "JPEG"):
        data = encode(arr, fmt)
        with pytest.raises(InvalidImageError) as err:
            load_image(data[: len(data) // 2])
        assert err.value.code == "TRUNCATED", fmt
    with pytest.raises(InvalidImageError) as err:
        load_image(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert err.value.code == "TRUNCATED"


def test_pixel_limit_fails_before_decoding() -> None:
    # Claims 100000 x 100000 pixels: rejected from the header alone.
    with pytest.raises(InvalidImageError) as err:
        load_image(_png_header_only(100_000, 100_000))
    assert err.value.code == "TOO_LARGE" and "pixel limit" in err.value.message
    with pytest.raises(InvalidImageError) as err:
        load_image(encode(shapes_image(64), "PNG"), max_pixels=1000)
    assert err.value.code == "TOO_LARGE"


def test_zero_size_array_and_missing_file(tmp_path: object) -> None:
    with pytest.raises(InvalidImageError) as err:
        load_image(np.zeros((0, 5, 3), np.uint8))
    assert err.value.code == "EMPTY"
    with pytest.raises(InvalidImageError) as err:
        load_image("/nonexistent/file.png")
    assert err.value.code == "NOT_AN_IMAGE"


def test_sniff_format() -> None:
    assert sniff_format(encode(shapes_image(8), "PNG")[:16]) == "PNG"
    assert sniff_format(encode(shapes_image(8), "WEBP")[:16]) == "WEBP"
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVE") is None
    img = io.BytesIO()
    Image.fromarray(shapes_image(8)).save(img, "TIFF")
    assert sniff_format(img.getvalue()[:16]) == "TIFF"
