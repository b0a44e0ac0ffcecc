"""Image file helpers compatible with DiffVG's ``imwrite`` / ``imread``."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["imread", "imwrite"]


def imwrite(
    img: Any, filename: str | os.PathLike[str], gamma: float = 2.2, normalize: bool = False
) -> None:
    """Write an ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]`` image with values in [0, 1].

    Like DiffVG, colour channels are raised to ``1 / gamma`` before quantisation (pass
    ``gamma=1.0`` for images that are already display-encoded); alpha is written as is.
    """
    arr = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"image must be [H, W], [H, W, 3] or [H, W, 4], got {arr.shape}")
    if normalize:
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    arr = np.clip(arr, 0.0, 1.0)
    if gamma != 1.0:
        if arr.ndim == 2:
            arr = arr ** (1.0 / gamma)
        else:
            arr[:, :, :3] = arr[:, :, :3] ** (1.0 / gamma)
    data = np.round(arr * 255.0).astype(np.uint8)
    directory = os.path.dirname(os.fspath(filename))
    if directory:
        os.makedirs(directory, exist_ok=True)
    Image.fromarray(data).save(filename)


def imread(filename: str | os.PathLike[str], gamma: float = 2.2) -> torch.Tensor:
    """Read an image as a float tensor ``[H, W, C]`` in [0, 1], undoing ``gamma`` on the
    colour channels (pass ``gamma=1.0`` to keep values as stored)."""
    with Image.open(filename) as im:
        arr = np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB"))
    out = arr.astype(np.float32) / 255.0
    if gamma != 1.0:
        out[:, :, :3] = out[:, :, :3] ** gamma
    return torch.from_numpy(np.ascontiguousarray(out))
