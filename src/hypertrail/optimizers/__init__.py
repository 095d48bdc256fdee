"""Search engines behind one protocol, and the registry that names them."""

from hypertrail.optimizers.base import OPTIMIZERS, Optimizer, Proposal

__all__ = ["OPTIMIZERS", "Optimizer", "Proposal"]
