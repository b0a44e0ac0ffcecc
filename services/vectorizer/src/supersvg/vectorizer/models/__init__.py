"""SuperSVG models: coarse (crop -> paths) and refinement (crop + canvas -> more paths)."""

from __future__ import annotations

from .build import (
    MODEL_CONFIGS,
    MODEL_REGISTRY,
    ModelConfig,
    build_coarse,
    build_model,
    build_refine,
    get_config,
    load_checkpoint,
    load_models,
)
from .encoder import ConvEncoder, ViTEncoder
from .head import PathQueryHead
from .paths import PathDecoder, PathParams, render_paths
from .supersvg import CoarseModel, RefineModel, masked_input

__all__ = [
    "MODEL_CONFIGS",
    "MODEL_REGISTRY",
    "CoarseModel",
    "ConvEncoder",
    "ModelConfig",
    "PathDecoder",
    "PathParams",
    "PathQueryHead",
    "RefineModel",
    "ViTEncoder",
    "build_coarse",
    "build_model",
    "build_refine",
    "get_config",
    "load_checkpoint",
    "load_models",
    "masked_input",
    "render_paths",
]
