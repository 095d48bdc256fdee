"""The ``hypertrail`` command line."""
