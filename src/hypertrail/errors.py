"""One exception tree for everything hypertrail raises on purpose.

Every error a user can cause derives from :class:`HypertrailError`, so callers can
catch the whole family with one clause. Errors about input carry a list of
:class:`Issue` objects, each naming *where* the problem is (file, line, key path),
because a configuration error is only useful when it says where to look.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DuplicateEventError",
    "ExpressionError",
    "HypertrailError",
    "Issue",
    "ObjectiveError",
    "OptimizerError",
    "PlanError",
    "SchemaVersionError",
    "SpaceError",
    "StorageError",
    "StudyError",
    "TrialStateError",
]


@dataclass(frozen=True)
class Issue:
    """One problem found in user input.

    Attributes:
        path: dotted key path inside the document, e.g. ``params.lr.low``.
        message: what is wrong, in words a user can act on.
        file: the file the input came from, when known.
        line: the 1-based line in ``file``, when known.
    """

    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def located(self, file: str | None, line: int | None) -> Issue:
        """Return a copy that points at ``file``/``line`` unless already located."""
        return Issue(
            self.path,
            self.message,
            self.file if self.file is not None else file,
            self.line if self.line is not None else line,
        )

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"


class HypertrailError(Exception):
    """Base class of every error hypertrail raises on purpose."""


class ConfigError(HypertrailError):
    """Invalid user input; carries every issue found, not just the first."""

    def __init__(self, issues: Iterable[Issue] | str) -> None:
        if isinstance(issues, str):
            issues = [Issue("", issues)]
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__(self._render(self.issues))

    @staticmethod
    def _render(issues: Sequence[Issue]) -> str:
        if len(issues) == 1:
            return str(issues[0])
        lines = [f"{len(issues)} problems found:"]
        lines.extend(f"  - {issue}" for issue in issues)
        return "\n".join(lines)


class SpaceError(ConfigError):
    """A search space is invalid."""


class PlanError(ConfigError):
    """A plan file is invalid."""


class ExpressionError(HypertrailError):
    """A condition or constraint expression could not be parsed or evaluated.

    Attributes:
        source: the expression text.
        column: 1-based column of the problem, when known.
    """

    def __init__(self, message: str, source: str = "", column: int | None = None) -> None:
        self.source = source
        self.column = column
        self.reason = message
        where = f" at column {column}" if column is not None else ""
        shown = f" in {source!r}" if source else ""
        super().__init__(f"{message}{where}{shown}")


class StorageError(HypertrailError):
    """The event log could not be read or written."""


class SchemaVersionError(StorageError):
    """The storage was written by an incompatible version of hypertrail."""


class DuplicateEventError(StorageError):
    """An event with the same de-duplication key already exists for the study.

    The storage refuses it atomically; callers use this to allocate trial numbers
    and to make sure a trial ends exactly once, even across processes.
    """

    def __init__(self, study: str, key: str) -> None:
        self.study = study
        self.key = key
        super().__init__(f"study {study!r} already has an event with key {key!r}")


class StudyError(HypertrailError):
    """A study was used in a way that its recorded state does not allow."""


class TrialStateError(StudyError):
    """A trial was told twice, or told after it ended."""


class OptimizerError(HypertrailError):
    """An optimizer cannot work on the space or history it was given."""


class ObjectiveError(HypertrailError):
    """An objective could not be loaded, or returned something unusable."""
