"""Default device selection, compatible with DiffVG's ``pydiffvg`` helpers.

The defaults live in module state that is only read when asked for; nothing here allocates
tensors at import time. Our own code passes ``device=`` explicitly instead of relying on
these globals.
"""

from __future__ import annotations

import torch

__all__ = ["get_device", "get_use_gpu", "set_device", "set_use_gpu"]

_use_gpu: bool | None = None
_device: torch.device | None = None


def get_use_gpu() -> bool:
    """Whether the default device is a CUDA device (CUDA when available, unless set)."""
    if _use_gpu is None:
        return torch.cuda.is_available()
    return _use_gpu


def set_use_gpu(use_gpu: bool) -> None:
    """Choose CUDA (``True``) or CPU (``False``) as the default device."""
    global _use_gpu, _device
    if use_gpu and not torch.cuda.is_available():
        raise RuntimeError("set_use_gpu(True) was called but CUDA is not available")
    _use_gpu = bool(use_gpu)
    _device = None


def get_device() -> torch.device:
    """The default device: the one set by :func:`set_device`, else CUDA or CPU."""
    if _device is not None:
        return _device
    return torch.device("cuda") if get_use_gpu() else torch.device("cpu")


def set_device(device: torch.device | str) -> None:
    """Set the default device (also updates :func:`get_use_gpu`)."""
    global _use_gpu, _device
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {dev} requested but CUDA is not available")
    _device = dev
    _use_gpu = dev.type == "cuda"
