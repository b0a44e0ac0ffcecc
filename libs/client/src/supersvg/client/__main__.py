"""``python -m supersvg.client ...``: the ``supersvg remote`` command on its own."""

from supersvg.client.cli import main

raise SystemExit(main())
