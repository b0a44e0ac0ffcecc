"""The learned coarse (and refinement) stage the pipeline runs when given a checkpoint.

Every superpixel's bounding box is cropped, resized to the model's input size and masked;
the coarse model predicts closed cubic paths for it, the refinement model (when the
checkpoint holds one) adds paths over the coarse canvas, and the visible paths are mapped
back into image pixels. The pipeline's optimisation refinement then runs on top.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import CheckpointError
from .models import CoarseModel, ModelConfig, PathParams, RefineModel, load_models, render_paths
from .shapes import VPath, polygon_area
from .superpixels import merge_regions

__all__ = ["PATHS_PER_REGION", "LearnedCoarse", "predict_paths"]

#: Paths kept per region on average: the pipeline's superpixels are merged (Ward's
#: criterion) down to ``max_paths / PATHS_PER_REGION`` regions, so that the budget buys
#: several model paths per region rather than one path in each of many tiny regions.
PATHS_PER_REGION = 4

_CACHE: dict[tuple[str, int, str], LearnedCoarse] = {}
_LOCK = threading.Lock()


class LearnedCoarse:
    """Loaded models plus the crop -> paths -> image mapping.

    ``predict(image, labels, max_paths)``: ``image`` ``(H, W, 4)`` float RGBA in [0, 1],
    ``labels`` ``(H, W)`` int with 0 = transparent; returns paths in image pixels, each
    region's paths in painting order, regions in label order.
    """

    def __init__(
        self, cfg: ModelConfig, models: dict[str, nn.Module], device: torch.device
    ) -> None:
        coarse = models["coarse"]
        if not isinstance(coarse, CoarseModel):
            raise CheckpointError("checkpoint's coarse model has the wrong type")
        refine = models.get("refine")
        if refine is not None and not isinstance(refine, RefineModel):
            raise CheckpointError("checkpoint's refine model has the wrong type")
        self.cfg = cfg
        self.coarse = coarse
        self.refine = refine
        self.device = device

    @classmethod
    def load(cls, checkpoint: str | Path, device: str = "cpu") -> LearnedCoarse:
        """Load (and cache per file version and device) a training checkpoint."""
        path = Path(checkpoint)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise CheckpointError(f"device {device!r} requested but CUDA is not available")
        key = (str(path.resolve()), path.stat().st_mtime_ns, device)
        with _LOCK:
            if key not in _CACHE:
                cfg, models = load_models(path, device)
                _CACHE[key] = cls(cfg, models, torch.device(device))
            return _CACHE[key]

    def _crops(
        self, rgb: np.ndarray, labels: np.ndarray, ids: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int, int, int]]]:
        s = self.cfg.img_size
        images, masks, boxes = [], [], []
        img_t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()
        lab_t = torch.from_numpy(labels.astype(np.int64))
        for k in ids:
            ys, xs = np.nonzero(labels == k)
            y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
            crop = img_t[None, :, y0:y1, x0:x1]
            m = (lab_t[y0:y1, x0:x1] == k).float()[None, None]
            images.append(F.interpolate(crop, size=(s, s), mode="bilinear", align_corners=False))
            masks.append((F.interpolate(m, size=(s, s), mode="bilinear") > 0.5).float())
            boxes.append((x0, y0, x1, y1))
        return torch.cat(images), torch.cat(masks), boxes

    @torch.inference_mode()
    def _predict_crops(self, image: torch.Tensor, mask: torch.Tensor) -> PathParams:
        coarse = self.coarse(image, mask)
        if self.refine is None:
            return coarse
        canvas = render_paths(coarse, self.cfg.img_size)
        extra = self.refine(image, canvas[:, :3] * canvas[:, 3:4], mask)
        return PathParams(
            torch.cat([coarse.points, extra.points], 1),
            torch.cat([coarse.colors, extra.colors], 1),
            torch.cat([coarse.visibility, extra.visibility], 1),
            torch.cat([coarse.vis_prob, extra.vis_prob], 1),
        )

    def predict(
        self,
        image: np.ndarray,
        labels: np.ndarray,
        max_paths: int,
        *,
        background: bool = True,
        batch: int = 256,
    ) -> list[VPath]:
        if image.ndim != 3 or image.shape[2] != 4 or labels.shape != image.shape[:2]:
            raise ValueError("image must be (H, W, 4) and labels (H, W)")
        alpha = image[..., 3:4]
        # The model was trained on opaque crops: flatten transparency on white.
        rgb = image[..., :3] * alpha + (1.0 - alpha)
        paths: list[VPath] = []
        opaque = bool((alpha > 0.98).all())
        target = max(1, (max_paths - int(background and opaque)) // PATHS_PER_REGION)
        if labels.max() > target:
            feats = np.concatenate([rgb * alpha, alpha], axis=2).astype(np.float64)
            labels = merge_regions(labels.astype(np.int32), feats, target)
        ids = [int(k) for k in np.unique(labels) if k > 0]
        if background and opaque:
            h, w = labels.shape
            color = np.append(np.median(rgb.reshape(-1, 3), axis=0), 1.0)
            rect = np.array(
                [[0, 0], [w / 3, 0], [2 * w / 3, 0], [w, 0], [w, h / 3], [w, 2 * h / 3],
                 [w, h], [2 * w / 3, h], [w / 3, h], [0, h], [0, 2 * h / 3], [0, h / 3]],
                dtype=np.float64,
            )  # fmt: skip
            paths.append(VPath([rect], color, is_background=True))
        if not ids:
            return paths
        sizes = np.bincount(labels.ravel())
        total = float(sum(sizes[k] for k in ids))
        room = max(1, max_paths - len(paths))
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            img_t, mask_t, boxes = self._crops(rgb, labels, chunk)
            pred = self._predict_crops(img_t.to(self.device), mask_t.to(self.device))
            points = pred.points.float().cpu().numpy()
            colors = pred.colors.float().cpu().numpy()
            visible = pred.visibility.cpu().numpy() > 0.5
            for i, k in enumerate(chunk):
                x0, y0, x1, y1 = boxes[i]
                scale = np.array([x1 - x0, y1 - y0], dtype=np.float64)
                offset = np.array([x0, y0], dtype=np.float64)
                region: list[tuple[float, VPath]] = []
                for j in np.nonzero(visible[i])[0]:
                    pts = points[i, j].astype(np.float64) * scale + offset
                    col = np.append(colors[i, j].astype(np.float64), 1.0)
                    region.append((abs(polygon_area(pts)), VPath([pts], col)))
                # Budget by area share; keep the largest paths, in painting order.
                quota = max(1, round(room * sizes[k] / total))
                if len(region) > quota:
                    keep = set(np.argsort([-a for a, _ in region], kind="stable")[:quota])
                    region = [r for n, r in enumerate(region) if n in keep]
                paths.extend(p for _, p in region)
        return paths


def predict_paths(
    image: np.ndarray,
    *,
    labels: np.ndarray,
    max_paths: int,
    checkpoint: str,
    device: str = "cpu",
    seed: int = 0,
    **_: Any,
) -> list[VPath]:
    """The pipeline's learned coarse stage (see :class:`LearnedCoarse`).

    ``seed`` is accepted for the pipeline's signature; inference is deterministic.
    """
    del seed
    return LearnedCoarse.load(checkpoint, device).predict(image, labels, max_paths)
