"""Where objectives run: in-process, local worker processes, command lines."""

from hypertrail.execution.base import Executor, TrialOutcome, normalize_values, run_objective
from hypertrail.execution.command import CommandObjective
from hypertrail.execution.inprocess import InProcessExecutor
from hypertrail.execution.processes import ProcessExecutor

__all__ = [
    "CommandObjective",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "TrialOutcome",
    "normalize_values",
    "run_objective",
]
