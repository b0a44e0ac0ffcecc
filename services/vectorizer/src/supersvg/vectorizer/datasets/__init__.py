"""Training datasets: download/generate (``test``, ``quickdraw``, ``icons``) and load."""

from __future__ import annotations

from .fetch import DatasetError, Manifest, download
from .folder import ImageFolder, SuperpixelCrops, superpixel_crop
from .icons import download_icons
from .quickdraw import download_quickdraw
from .synthetic import generate_test

__all__ = [
    "DatasetError",
    "ImageFolder",
    "Manifest",
    "SuperpixelCrops",
    "download",
    "download_icons",
    "download_quickdraw",
    "generate_test",
    "superpixel_crop",
]
