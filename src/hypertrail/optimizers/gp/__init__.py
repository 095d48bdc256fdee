"""Gaussian-process Bayesian optimization for mixed, conditional spaces (numpy/scipy)."""

from hypertrail.optimizers.gp.optimizer import GPOptimizer

__all__ = ["GPOptimizer"]
