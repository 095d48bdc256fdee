"""The quality benchmark suite (issue 3): problems with known optima, many optimizers.

Run from the repository root: ``python -m benchmarks.suite.run --help``. Nothing here
is imported by the test suite or by ``hypertrail`` itself.
"""
