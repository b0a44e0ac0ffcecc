"""Model sizes, builders, the registry, and checkpoint loading.

``tiny`` trains on a CPU in minutes; ``paper`` follows the SuperSVG paper's description
(ViT-S/16 encoder at 224 px, 128 paths per superpixel of 4 cubic segments each, one
cross-attention and one self-attention block of 8 heads in the path head).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from .encoder import ConvEncoder, ViTEncoder
from .head import PathQueryHead
from .paths import PathDecoder
from .supersvg import CoarseModel, RefineModel

__all__ = [
    "MODEL_CONFIGS",
    "MODEL_REGISTRY",
    "ModelConfig",
    "build_coarse",
    "build_model",
    "build_refine",
    "get_config",
    "load_checkpoint",
    "load_models",
]


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of one model family (coarse and refine share them)."""

    name: str
    img_size: int
    encoder: str  # "vit" or "conv"
    enc_dim: int
    enc_depth: int
    enc_heads: int
    patch: int
    conv_widths: tuple[int, ...]
    num_paths: int
    refine_paths: int
    segments: int
    head_dim: int
    head_heads: int
    cross_depth: int
    self_depth: int
    #: SLIC superpixels per training image and crops taken from each.
    n_segments: int
    per_image: int
    #: Side of the image SLIC runs on (the paper: 224).
    slic_size: int = 224

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["conv_widths"] = list(self.conv_widths)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise CheckpointError(f"unknown model config keys {sorted(unknown)}")
        data = dict(data)
        data["conv_widths"] = tuple(data.get("conv_widths", ()))
        return cls(**data)


MODEL_CONFIGS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        name="tiny",
        img_size=32,
        encoder="conv",
        enc_dim=96,
        enc_depth=0,
        enc_heads=4,
        patch=8,
        conv_widths=(32, 64, 96),
        num_paths=8,
        refine_paths=4,
        segments=4,
        head_dim=96,
        head_heads=4,
        cross_depth=1,
        self_depth=1,
        n_segments=16,
        per_image=4,
        slic_size=128,
    ),
    "paper": ModelConfig(
        name="paper",
        img_size=224,
        encoder="vit",
        enc_dim=384,
        enc_depth=12,
        enc_heads=6,
        patch=16,
        conv_widths=(),
        num_paths=128,
        refine_paths=128,
        segments=4,
        head_dim=256,
        head_heads=8,
        cross_depth=1,
        self_depth=1,
        n_segments=16,
        per_image=4,
    ),
}


def get_config(name: str, **overrides: Any) -> ModelConfig:
    try:
        cfg = MODEL_CONFIGS[name]
    except KeyError:
        known = sorted(MODEL_CONFIGS)
        raise ValueError(f"unknown model config {name!r} (known: {known})") from None
    return replace(cfg, **overrides) if overrides else cfg


def _encoder(cfg: ModelConfig, in_chans: int) -> nn.Module:
    if cfg.encoder == "vit":
        return ViTEncoder(
            img_size=cfg.img_size,
            patch=cfg.patch,
            in_chans=in_chans,
            dim=cfg.enc_dim,
            depth=cfg.enc_depth,
            heads=cfg.enc_heads,
        )
    if cfg.encoder == "conv":
        return ConvEncoder(
            img_size=cfg.img_size, in_chans=in_chans, widths=cfg.conv_widths, dim=cfg.enc_dim
        )
    raise ValueError(f"unknown encoder {cfg.encoder!r}")


def _head(cfg: ModelConfig, num_paths: int) -> PathQueryHead:
    return PathQueryHead(
        num_paths=num_paths,
        dim=cfg.head_dim,
        enc_dim=cfg.enc_dim,
        out_dim=PathDecoder.raw_dim(cfg.segments),
        heads=cfg.head_heads,
        cross_depth=cfg.cross_depth,
        self_depth=cfg.self_depth,
    )


def _head_and_decoder(cfg: ModelConfig, num_paths: int) -> tuple[PathQueryHead, PathDecoder]:
    head = _head(cfg, num_paths)
    decoder = PathDecoder(cfg.segments)
    decoder.init_output(head.out)
    return head, decoder


def build_coarse(cfg: ModelConfig) -> CoarseModel:
    """The coarse model for ``cfg`` (4 input channels: masked RGB + mask)."""
    return CoarseModel(_encoder(cfg, 4), *_head_and_decoder(cfg, cfg.num_paths))


def build_refine(cfg: ModelConfig) -> RefineModel:
    """The refinement model for ``cfg`` (7 input channels: masked RGB, mask, canvas)."""
    return RefineModel(_encoder(cfg, 7), *_head_and_decoder(cfg, cfg.refine_paths))


MODEL_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "coarse": build_coarse,
    "refine": build_refine,
}


def build_model(stage: str, cfg: ModelConfig) -> nn.Module:
    try:
        builder = MODEL_REGISTRY[stage]
    except KeyError:
        raise ValueError(f"unknown stage {stage!r} (known: {sorted(MODEL_REGISTRY)})") from None
    return builder(cfg)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``map_location`` and ``weights_only=True`` (no pickled code)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    try:
        data = torch.load(p, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt/unsafe files
        raise CheckpointError(f"{p}: not a readable checkpoint ({exc})") from exc
    if not isinstance(data, dict) or "models" not in data or "config" not in data:
        raise CheckpointError(f"{p}: not a supersvg training checkpoint")
    return data


def load_models(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[ModelConfig, dict[str, nn.Module]]:
    """Build and load every model stored in a checkpoint (``coarse``, maybe ``refine``)."""
    data = load_checkpoint(path, device)
    cfg = ModelConfig.from_dict(data["config"])
    models: dict[str, nn.Module] = {}
    for stage, state in data["models"].items():
        model = build_model(stage, cfg)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: {stage} weights do not fit the config: {exc}") from exc
        models[stage] = model.to(device).eval()
    if "coarse" not in models:
        raise CheckpointError(f"{path}: has no coarse model")
    return cfg, models
