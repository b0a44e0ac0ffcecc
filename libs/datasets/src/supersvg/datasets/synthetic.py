"""The ``test`` dataset: synthetic flat-colour drawings generated locally (no network).

Each image is a few random filled shapes (ellipses, rectangles, polygons, rings) over a
flat or gradient background, the kind of content the coarse model learns to cover with
closed paths. Generation is deterministic for a seed, so re-runs verify byte-for-byte.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .fetch import Manifest, write_atomic

__all__ = ["TEST_COUNT", "TEST_SIZE", "generate_test", "sample_name", "synthetic_image"]

TEST_COUNT = 300
TEST_SIZE = 256


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, size=3))  # type: ignore[return-value]


def synthetic_image(seed: int, size: int = TEST_SIZE) -> Image.Image:
    """One RGB drawing of 3..8 random shapes."""
    rng = np.random.default_rng(seed)
    if rng.random() < 0.5:
        img = Image.new("RGB", (size, size), _color(rng))
    else:
        a, b = np.array(_color(rng)), np.array(_color(rng))
        t = np.linspace(0.0, 1.0, size)[:, None, None]
        grad = (a * (1 - t) + b * t).astype(np.uint8)
        img = Image.fromarray(np.repeat(grad, size, axis=1), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 9))):
        kind = int(rng.integers(0, 4))
        cx, cy = rng.uniform(0.1, 0.9, size=2) * size
        rx, ry = rng.uniform(0.06, 0.3, size=2) * size
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        fill = _color(rng)
        if kind == 0:
            draw.ellipse(box, fill=fill)
        elif kind == 1:
            draw.rectangle(box, fill=fill)
        elif kind == 2:
            n = int(rng.integers(3, 8))
            ang = np.sort(rng.uniform(0, 2 * np.pi, size=n))
            rad = rng.uniform(0.5, 1.0, size=n)
            pts = [
                (float(cx + rx * r * np.cos(a)), float(cy + ry * r * np.sin(a)))
                for a, r in zip(ang, rad, strict=True)
            ]
            draw.polygon(pts, fill=fill)
        else:
            draw.ellipse(box, outline=fill, width=int(max(2, min(rx, ry) * 0.4)))
    # A little sensor-like noise so JPEG and SLIC see realistic, not perfectly flat, input.
    arr = np.asarray(img).astype(np.int16) + rng.integers(-6, 7, size=(size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def sample_name(i: int) -> str:
    """File name of image ``i`` in ``test/test_class`` (the documented layout)."""
    return f"test_{i:03d}.jpg"


def generate_test(root: Path, *, count: int = TEST_COUNT, seed: int = 0) -> tuple[int, int]:
    """Write ``root/test/test_class/test_000.jpg`` ...; return (written, already valid).

    Files an earlier run recorded that are not part of this dataset any more (another
    ``count``, or the older ``00000.jpg`` names) are deleted, so the folder holds exactly
    the dataset and a training run never reads a stale image.
    """
    manifest = Manifest.load(Path(root) / "test" / "manifest.json")
    wanted = {f"test_class/{sample_name(i)}" for i in range(count)}
    for stale in sorted(set(manifest.files) - wanted):
        (manifest.root() / stale).unlink(missing_ok=True)
        del manifest.files[stale]
    written = kept = 0
    for i in range(count):
        rel = f"test_class/{sample_name(i)}"
        if manifest.verify(rel):
            kept += 1
            continue
        buf = io.BytesIO()
        synthetic_image(seed * 100_003 + i).save(buf, format="JPEG", quality=92)
        manifest.record(rel, write_atomic(manifest.root() / rel, buf.getvalue()))
        written += 1
        if written % 50 == 0:
            manifest.save()
    manifest.sources["test"] = {"generator": "synthetic", "seed": seed, "count": count}
    manifest.complete["test_class"] = True
    manifest.save()
    return written, kept
