"""``python -m supersvg.datasets download {test,quickdraw,icons,all} [ROOT]``."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
