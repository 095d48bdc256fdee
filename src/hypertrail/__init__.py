"""hypertrail: reproducible hyperparameter and architecture search.

Declare a hierarchical space, pick metrics and a budget, and search it; every
proposal, result and decision is an event in an append-only log, so any study can
be inspected, resumed and replayed. Importing this package is cheap: storage,
SciPy and the CLI load only when used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hypertrail.errors import (
    HypertrailError,
    ObjectiveError,
    OptimizerError,
    PlanError,
    SpaceError,
    StorageError,
    StudyError,
    TrialStateError,
)
from hypertrail.optimizers.base import Optimizer, Proposal
from hypertrail.space import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    Repeat,
    Space,
    load_space,
)
from hypertrail.study import Study
from hypertrail.trial import FrozenTrial, Metric, Trial, TrialState

__all__ = [
    "Categorical",
    "Fixed",
    "Float",
    "FrozenTrial",
    "HypertrailError",
    "Int",
    "Metric",
    "ObjectiveError",
    "Optimizer",
    "OptimizerError",
    "Ordinal",
    "PlanError",
    "Proposal",
    "Repeat",
    "Space",
    "SpaceError",
    "StorageError",
    "Study",
    "StudyError",
    "Trial",
    "TrialState",
    "TrialStateError",
    "__version__",
    "load_space",
]
