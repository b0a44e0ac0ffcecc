"""Training datasets, downloaded or generated without torch: ``test``, ``quickdraw``, ``icons``.

Layout under a dataset root (what ``supersvg datasets download NAME ROOT`` writes)::

    test/test_class/test_000.jpg ...          synthetic drawings (generated locally)
    quickdraw/<category>/000000.png ...       Quick, Draw! bitmaps
    tabler_icons/png_224/<category>/*.png     Tabler Icons rendered with resvg

Each dataset folder has a ``manifest.json`` (sources and sha256 of every file) that makes
re-runs incremental. Loading for training lives in ``supersvg.vectorizer.train.data``.
"""

from __future__ import annotations

from .fetch import DatasetError, Manifest, download
from .icons import download_icons
from .quickdraw import download_quickdraw
from .synthetic import generate_test

__all__ = [
    "DatasetError",
    "Manifest",
    "download",
    "download_icons",
    "download_quickdraw",
    "generate_test",
]
