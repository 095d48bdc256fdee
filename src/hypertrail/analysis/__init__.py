"""Analysis of studies: statistics across seeds, comparisons of optimizers, parameter
importance (fANOVA) and sensitivity, Pareto fronts and hypervolume.

Pure functions over a study's data; SciPy is imported inside the functions that
need it, so importing this package stays light.
"""

from __future__ import annotations

__all__: list[str] = []
