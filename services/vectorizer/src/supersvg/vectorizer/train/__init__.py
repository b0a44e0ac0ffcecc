"""Training: a hook-based loop, the coarse/refine objectives and the ``train`` command."""

from __future__ import annotations

from .engine import TrainOptions, run_training
from .hooks import CheckpointHook, LogHook, MetricsHook, PreviewHook, save_checkpoint
from .loop import HookBase, ResumableBatchSampler, Trainer

__all__ = [
    "CheckpointHook",
    "HookBase",
    "LogHook",
    "MetricsHook",
    "PreviewHook",
    "ResumableBatchSampler",
    "TrainOptions",
    "Trainer",
    "run_training",
    "save_checkpoint",
]
