"""The ``quickdraw`` dataset: Quick, Draw! 28x28 bitmaps saved as PNGs per category.

Only the needed prefix of each ``<category>.npy`` is fetched (a ``Range`` request over
the npy header plus ``limit`` rows), so 25 categories cost a few MB instead of GBs.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format
from PIL import Image

from .fetch import DatasetError, Manifest, download, file_sha256, write_atomic

__all__ = [
    "QUICKDRAW_BASE_URL",
    "QUICKDRAW_CATEGORIES",
    "QUICKDRAW_LIMIT",
    "download_quickdraw",
    "read_npy_prefix",
]

QUICKDRAW_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap"
#: Images per category unless ``--limit`` says otherwise.
QUICKDRAW_LIMIT = 500

#: 25 categories with simple, closed shapes (good coarse-stage material).
QUICKDRAW_CATEGORIES: tuple[str, ...] = (
    "apple", "banana", "bicycle", "birthday cake", "butterfly", "cactus", "car", "cat",
    "circle", "cloud", "crown", "cup", "diamond", "donut", "envelope", "fish", "flower",
    "house", "key", "leaf", "moon", "star", "sun", "tree", "umbrella",
)  # fmt: skip

_ROW = 28 * 28
#: Enough for any npy header (v1: 2-byte length, v2/v3: 4-byte; headers are padded to 64).
_HEADER_PROBE = 4096


def _header_len(head: bytes) -> int:
    if not head.startswith(b"\x93NUMPY"):
        raise DatasetError("not an .npy file (bad magic)")
    major = head[6]
    if major == 1:
        return 10 + int(struct.unpack("<H", head[8:10])[0])
    if major in (2, 3):
        return 12 + int(struct.unpack("<I", head[8:12])[0])
    raise DatasetError(f"unsupported .npy version {major}")


def _parse_header(head: bytes) -> tuple[int, tuple[int, ...], bool, np.dtype[Any]]:
    """(header length, shape, fortran order, dtype) of an .npy file's first bytes."""
    hlen = _header_len(head[:16])
    if len(head) < hlen:
        raise DatasetError("truncated .npy header")
    fh = io.BytesIO(head[:hlen])
    try:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise DatasetError(f"bad .npy header: {exc}") from exc
    return hlen, tuple(int(s) for s in shape), bool(fortran), dtype


def read_npy_prefix(path: Path, limit: int) -> np.ndarray:
    """Rows ``[:limit]`` of a (possibly truncated) uint8 ``(N, 784)`` .npy file."""
    data = Path(path).read_bytes()
    hlen, shape, fortran, dtype = _parse_header(data[:_HEADER_PROBE])
    if dtype != np.uint8 or len(shape) != 2 or shape[1] != _ROW or fortran:
        raise DatasetError(f"{path}: expected uint8 (N, 784) bitmaps, got {dtype} {shape}")
    rows = min(limit, int(shape[0]), (len(data) - hlen) // _ROW)
    body = np.frombuffer(data, dtype=np.uint8, count=rows * _ROW, offset=hlen)
    return body.reshape(rows, 28, 28)


def _needed_bytes(url: str, cache: Path, limit: int, progress: bool) -> int:
    """Header length + ``limit`` rows, read from a small probe of the file's start."""
    probe = cache.with_name(cache.name + ".head")
    download(url, probe, limit=_HEADER_PROBE, progress=False)
    hlen, shape, _, _ = _parse_header(probe.read_bytes())
    probe.unlink(missing_ok=True)
    return hlen + min(limit, int(shape[0])) * _ROW


def download_quickdraw(
    root: Path,
    *,
    categories: Sequence[str] = QUICKDRAW_CATEGORIES,
    limit: int = QUICKDRAW_LIMIT,
    base_url: str = QUICKDRAW_BASE_URL,
    progress: bool = True,
    retries: int = 3,
    keep_sources: bool = False,
) -> dict[str, int]:
    """Write ``root/quickdraw/<category>/NNNNNN.png``; return images per category."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    manifest = Manifest.load(Path(root) / "quickdraw" / "manifest.json")
    out: dict[str, int] = {}
    cache_dir = manifest.root() / ".sources"
    for cat in categories:
        if manifest.verify_group(cat) and manifest.sources.get(cat, {}).get("limit", 0) >= limit:
            out[cat] = sum(1 for r in manifest.files if r.startswith(cat + "/"))
            continue
        manifest.drop_group(cat)
        url = f"{base_url.rstrip('/')}/{cat.replace(' ', '%20')}.npy"
        cache = cache_dir / f"{cat}.npy"
        if not cache.exists():
            need = _needed_bytes(url, cache, limit, progress)
            download(url, cache, limit=need, progress=progress, desc=cat, retries=retries)
        bitmaps = read_npy_prefix(cache, limit)
        for i, bmp in enumerate(bitmaps):
            # Strokes are white on black in the source; draw them dark on white like ink.
            img = Image.fromarray(255 - bmp, "L")
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            rel = f"{cat}/{i:06d}.png"
            manifest.record(rel, write_atomic(manifest.root() / rel, buf.getvalue()))
        manifest.sources[cat] = {"url": url, "sha256": file_sha256(cache), "limit": limit}
        manifest.complete[cat] = True
        manifest.save()
        if not keep_sources:
            cache.unlink(missing_ok=True)
        out[cat] = len(bitmaps)
    return out
