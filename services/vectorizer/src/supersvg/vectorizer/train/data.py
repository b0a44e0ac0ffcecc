"""Training data: any folder of images is a dataset; samples are masked superpixel crops."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.segmentation import slic
from torch.utils.data import Dataset

from supersvg.datasets import DatasetError

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder", "SuperpixelCrops", "superpixel_crop"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class ImageFolder(Dataset[tuple[np.ndarray, int]]):
    """Images under ``root`` (recursively), labelled by their first-level folder.

    Yields ``(rgb, class_index)`` with ``rgb`` an ``(H, W, 3)`` uint8 array; transparent
    pixels are flattened on white.
    """

    def __init__(self, root: Path | str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist")
        exts = tuple(e.lower() for e in extensions)
        self.paths = sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file()
            and p.suffix.lower() in exts
            and not p.name.endswith(".part")
            and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        )
        if not self.paths:
            raise DatasetError(f"no images ({', '.join(exts)}) under {self.root}")
        rels = [p.relative_to(self.root).parts for p in self.paths]
        self.classes = sorted({r[0] if len(r) > 1 else "." for r in rels})
        index = {c: i for i, c in enumerate(self.classes)}
        self.targets = [index[r[0] if len(r) > 1 else "."] for r in rels]

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> np.ndarray:
        try:
            with Image.open(self.paths[index]) as img:
                rgba = img.convert("RGBA")
        except OSError as exc:
            raise DatasetError(f"cannot read image {self.paths[index]}: {exc}") from exc
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return np.asarray(white.convert("RGB"))

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.load(index), self.targets[index]


def superpixel_crop(
    rgb: np.ndarray, labels: np.ndarray, label: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crop the bounding box of superpixel ``label`` and resize to ``size`` x ``size``.

    Returns ``(image, mask)``: ``(size, size, 3)`` float32 in [0, 1] and ``(size, size)``
    float32 in {0, 1}. The paper's crop is the box itself (aspect not kept): the model
    always sees a region that fills its canvas.
    """
    ys, xs = np.nonzero(labels == label)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = Image.fromarray(rgb[y0:y1, x0:x1]).resize((size, size), Image.Resampling.BILINEAR)
    m = (labels[y0:y1, x0:x1] == label).astype(np.uint8) * 255
    mask = Image.fromarray(m).resize((size, size), Image.Resampling.BILINEAR)
    img = np.asarray(crop, dtype=np.float32) / 255.0
    return img, (np.asarray(mask, dtype=np.float32) > 127.5).astype(np.float32)


@dataclass(frozen=True)
class _Key:
    image: int
    slot: int


class SuperpixelCrops(Dataset[dict[str, torch.Tensor]]):
    """Masked superpixel crops of an image folder, the coarse stage's training samples.

    Sample ``i`` is superpixel slot ``i % per_image`` (largest first) of image
    ``i // per_image``; SLIC runs once per image (cached, ``cache_images`` most recent).
    Items: ``image`` (3, S, S) float in [0, 1], ``mask`` (1, S, S) in {0, 1}.
    """

    def __init__(
        self,
        images: ImageFolder,
        *,
        size: int = 64,
        n_segments: int = 16,
        per_image: int = 4,
        compactness: float = 30.0,
        sigma: float = 5.0,
        work_size: int = 224,
        cache_images: int = 4096,
    ) -> None:
        if size < 8 or per_image < 1 or n_segments < 1:
            raise ValueError("size >= 8, per_image >= 1 and n_segments >= 1 are required")
        self.images = images
        self.size = size
        self.n_segments = n_segments
        self.per_image = per_image
        self.compactness = compactness
        self.sigma = sigma
        self.work_size = work_size
        self._cache: OrderedDict[int, list[tuple[np.ndarray, np.ndarray]]] = OrderedDict()
        self._cache_images = cache_images

    def __len__(self) -> int:
        return len(self.images) * self.per_image

    def _crops(self, index: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        rgb = self.images.load(index)
        # SLIC at a fixed working size (the paper resizes to 224 first).
        img = Image.fromarray(rgb).resize((self.work_size, self.work_size))
        rgb = np.asarray(img)
        labels = slic(
            rgb,
            n_segments=self.n_segments,
            compactness=self.compactness,
            sigma=self.sigma,
            start_label=1,
            channel_axis=-1,
        )
        sizes = np.bincount(labels.ravel())
        order = [int(k) for k in np.argsort(-sizes, kind="stable") if k > 0 and sizes[k] > 0]
        crops = [superpixel_crop(rgb, labels, k, self.size) for k in order[: self.per_image]]
        self._cache[index] = crops
        if len(self._cache) > self._cache_images:
            self._cache.popitem(last=False)
        return crops

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        crops = self._crops(i // self.per_image)
        img, mask = crops[(i % self.per_image) % len(crops)]
        return {
            "image": torch.from_numpy(img).permute(2, 0, 1).contiguous(),
            "mask": torch.from_numpy(mask)[None].contiguous(),
        }
