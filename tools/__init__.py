"""Developer tools (``make run``); importable so import-linter can hold product code off them."""
