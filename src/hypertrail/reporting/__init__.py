"""Reports: numbers first (``data``), then their presentation."""
