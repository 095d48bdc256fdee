"""Portable export and import of a study's event log, as JSON lines.

A study moves between storages (SQLite file, PostgreSQL, another machine, another
version of the storage schema) as its events, not as a database dump: the log is
the truth (invariant 1), so copying it copies the study, its replay included.

The file is one JSON object per line. The first line is a header::

    {"format": "hypertrail-events", "format_version": 1, "event_schema_version": 1,
     "study": "mlp", "events": 31, "hypertrail_version": "0.1.0"}

then one line per event, in sequence order, of every kind (the format does not
interpret them)::

    {"seq": 1, "kind": "study.created", "trial": null, "key": "created",
     "time": 1718000000.5, "data": {...}}

Import validates the whole file before writing anything, then appends every event
in one atomic batch. The target storage assigns new sequence numbers, so the
history cursor of each ``trial.asked`` (the last sequence number its optimizer had
read) is translated to the new number of the same event: the last event whose old
number is at most the old cursor. Replay then folds the same prefix and gets the
same proposals. Because the new numbers exist only once stored, the batch is
appended with :meth:`~hypertrail.storage.base.LinkedAppend.append_linked`, which
completes each event while the batch is being stored.

Example:
    >>> import io
    >>> from hypertrail import Float, Space, Study
    >>> from hypertrail.storage import MemoryEventLog
    >>> source = MemoryEventLog()
    >>> Study.create("demo", Space({"x": Float(0.0, 1.0)}), storage=source).close()
    >>> buffer = io.StringIO()
    >>> export_study(source, "demo", buffer)
    1
    >>> _ = buffer.seek(0)
    >>> import_study(buffer, MemoryEventLog(), name="copy")
    ImportResult(study='copy', source='demo', events=1, trials=0)
"""

from __future__ import annotations

import csv
import json
import math
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, Final

from hypertrail.errors import (
    ConfigError,
    DuplicateEventError,
    HypertrailError,
    Issue,
    StorageError,
    StudyError,
)
from hypertrail.storage.base import EventLog, LinkedAppend
from hypertrail.storage.events import (
    EVENT_SCHEMA_VERSION,
    STUDY_CREATED,
    TRIAL_ASKED,
    Event,
    dumps,
)

if TYPE_CHECKING:
    from hypertrail.study import Study

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ImportResult",
    "export_study",
    "export_trials_csv",
    "import_study",
    "trial_rows",
    "write_trials_csv",
]

FORMAT: Final = "hypertrail-events"
FORMAT_VERSION: Final = 1

_FIELDS: Final = ("seq", "kind", "trial", "key", "time", "data")
# A broken file can have a problem on every line; past this many, only count them.
_MAX_ISSUES: Final = 100


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_study` stored.

    Attributes:
        study: the name of the study in the target storage.
        source: its name in the file (differs from ``study`` when renamed).
        events: how many events were appended.
        trials: how many trials the study holds.
    """

    study: str
    source: str
    events: int
    trials: int


# --- export ------------------------------------------------------------------------


def export_study(log: EventLog, study: str, out: IO[str]) -> int:
    """Write every event of ``study`` to ``out`` as JSON lines; return their count.

    The output depends only on the events (no clock, no host), so exporting the
    same log twice gives the same bytes.

    Raises:
        StudyError: ``log`` holds no study named ``study``.
    """
    from hypertrail import __version__

    events = log.read(study)
    if not any(e.kind == STUDY_CREATED for e in events):
        raise StudyError(_no_study(log, study))
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "event_schema_version": EVENT_SCHEMA_VERSION,
        "study": study,
        "events": len(events),
        "hypertrail_version": __version__,
    }
    out.write(dumps(header) + "\n")
    for event in events:
        line = {
            "seq": event.seq,
            "kind": event.kind,
            "trial": event.trial,
            "key": event.key,
            "time": event.time,
            "data": event.data,
        }
        out.write(dumps(line) + "\n")
    return len(events)


def _no_study(log: EventLog, study: str) -> str:
    known = log.studies()
    hint = f"; studies there: {', '.join(known)}" if known else "; it holds no study"
    return f"no study named {study!r} in {log.url}{hint}"


# --- import ------------------------------------------------------------------------


def import_study(source: IO[str], log: EventLog, name: str | None = None) -> ImportResult:
    """Append the study exported in ``source`` to ``log``, all events at once.

    Args:
        source: an export (:func:`export_study`), read to the end.
        log: the target storage; it must not hold a study of the target name.
        name: the study's name in ``log``; default: its name in the file.

    Raises:
        ConfigError: the file is not a valid export; every problem found is listed
            with its file and line. Nothing is written.
        StudyError: the target name is invalid or already taken. Nothing is written.
        StorageError: the storage cannot store linked batches.
    """
    from hypertrail.study import _check_name

    parsed = _parse(source)
    target = parsed.study if name is None else name
    _check_name(target)
    if target in log.studies() or log.read(target):
        raise StudyError(_taken(log, target))
    if not isinstance(log, LinkedAppend):
        raise StorageError(
            f"storage {log.url!r} cannot import a study: it has no append_linked method"
        )
    events = [_renamed(e, target) for e in parsed.events]
    old_seqs = [e.seq or 0 for e in parsed.events]

    def resolve(index: int, seqs: Sequence[int]) -> Mapping[str, Any] | None:
        event = events[index]
        if event.kind != TRIAL_ASKED:
            return None
        # The validated cursor is below the event's own old seq, so the event it
        # names is earlier in the batch and already has its new number.
        last = bisect_right(old_seqs, int(event.data["cursor"])) - 1
        return {**event.data, "cursor": seqs[last] if last >= 0 else 0}

    try:
        log.append_linked(events, resolve)
    except DuplicateEventError:
        raise StudyError(_taken(log, target)) from None
    return ImportResult(target, parsed.study, len(events), parsed.trials)


def _taken(log: EventLog, name: str) -> str:
    return (
        f"a study named {name!r} already exists in {log.url}; "
        "import it under another name (--name NEW_NAME)"
    )


def _renamed(event: Event, name: str) -> Event:
    if event.study == name:
        return event
    if event.kind == STUDY_CREATED:
        return replace(event, study=name, data={**event.data, "name": name})
    return replace(event, study=name)


@dataclass(frozen=True)
class _Parsed:
    study: str
    events: list[Event]
    trials: int


class _Checker:
    """Collects every problem of one file, each located at its line."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def add(self, line: int, path: str, message: str) -> None:
        self.issues.append(Issue(path, message, self.file, line))

    def fail_now(self, line: int, message: str) -> ConfigError:
        self.add(line, "", message)
        return self.error()

    def error(self) -> ConfigError:
        shown = self.issues[:_MAX_ISSUES]
        hidden = len(self.issues) - len(shown)
        if hidden:
            shown.append(Issue("", f"... and {hidden} more problems", self.file))
        return ConfigError(shown)


def _json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """The JSON object on a line, or None and why not."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, f"not a complete JSON object ({exc.msg} at column {exc.colno})"
    except ValueError as exc:
        return None, str(exc)
    if not isinstance(value, dict):
        return None, f"a JSON object was expected, found {type(value).__name__}"
    return value, ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _source_name(source: IO[str]) -> str | None:
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def _lines(source: IO[str], checker: _Checker) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, text in enumerate(source, start=1):
            yield number, text
    except UnicodeDecodeError as exc:
        raise checker.fail_now(number + 1, f"not UTF-8 text ({exc.reason})") from None


def _parse(source: IO[str]) -> _Parsed:
    """Read and check the whole file; raise a ConfigError listing every problem."""
    checker = _Checker(_source_name(source))
    lines = _lines(source, checker)
    first = next(lines, None)
    if first is None:
        raise checker.fail_now(1, "the file is empty; expected a hypertrail events export")
    study, announced = _header(first[1], checker)

    events: list[Event] = []
    event_lines: list[int] = []  # the line of each event
    counted = 0  # lines that should hold an event, valid or not
    keys: dict[str, int] = {}
    previous: tuple[int, int] | None = None  # (seq, line) of the last event read
    last_line = 1
    seen_event_line = False
    for line, text in lines:
        last_line = line
        if not text.strip():
            continue
        obj, why = _json_object(text)
        if obj is None:
            checker.add(line, "", why)
            seen_event_line = True
            counted += 1
            continue
        if "format" in obj:
            other = obj.get("study")
            checker.add(
                line,
                "",
                f"a second header (study {other!r}): the file holds more than one "
                "study; export and import studies one at a time",
            )
            continue
        event = _event(obj, line, study or "", checker, first_event=not seen_event_line)
        seen_event_line = True
        counted += 1
        if event is None:
            continue
        seq = event.seq or 0
        if previous is not None and seq <= previous[0]:
            checker.add(
                line,
                "seq",
                f"{seq} does not follow {previous[0]} (line {previous[1]}): "
                "sequence numbers must increase",
            )
        else:
            previous = (seq, line)
        if event.key is not None:
            if event.key in keys:
                checker.add(line, "key", f"{event.key!r} is already used at line {keys[event.key]}")
            else:
                keys[event.key] = line
        if event.kind == STUDY_CREATED:
            _check_created(event, line, study, checker)
        events.append(event)
        event_lines.append(line)

    if not seen_event_line:
        checker.add(1, "", "the file holds no event; a study starts with study.created")
    if announced is not None and announced != counted:
        checker.add(
            last_line,
            "",
            f"the header announces {announced} events, the file holds {counted}: "
            "it is incomplete or was edited",
        )
    if checker.issues or study is None:
        raise checker.error()
    return _Parsed(study, events, _fold(events, event_lines, checker))


def _header(text: str, checker: _Checker) -> tuple[str | None, int | None]:
    """The study name and event count the header announces.

    A file whose first line is not a header of a known format and version is not
    read further: every line of it would be a problem."""
    obj, why = _json_object(text)
    if obj is None or obj.get("format") != FORMAT:
        found = f" ({why})" if obj is None else ""
        if obj is not None and "format" in obj:
            found = f" (format {obj['format']!r})"
        raise checker.fail_now(
            1,
            f"not a hypertrail events export{found}: the first line must be a header "
            f'with "format": "{FORMAT}"',
        )
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        raise checker.fail_now(
            1,
            f"format version {version!r} is not one this hypertrail reads ({FORMAT_VERSION})",
        )
    schema = obj.get("event_schema_version")
    if schema != EVENT_SCHEMA_VERSION:
        raise checker.fail_now(
            1,
            f"the events were written with event schema {schema!r}; this hypertrail "
            f"reads {EVENT_SCHEMA_VERSION}",
        )
    study = obj.get("study")
    if not isinstance(study, str) or not study:
        checker.add(1, "study", f"a study name was expected, found {study!r}")
        study = None
    count: Any = obj.get("events")
    if not _is_int(count) or count < 0:
        checker.add(1, "events", f"a number of events was expected, found {count!r}")
        count = None
    return study, count


def _event(
    obj: dict[str, Any], line: int, study: str, checker: _Checker, *, first_event: bool
) -> Event | None:
    """The event on one line, or None after recording its problems."""
    before = len(checker.issues)
    for name in _FIELDS:
        if name not in obj:
            checker.add(line, name, "missing")
    for name in obj:
        if name not in _FIELDS:
            checker.add(line, name, f"unknown field (expected: {', '.join(_FIELDS)})")
    seq: Any = obj.get("seq")
    kind: Any = obj.get("kind")
    trial: Any = obj.get("trial")
    key: Any = obj.get("key")
    when: Any = obj.get("time")
    data: Any = obj.get("data")
    if "seq" in obj and (not _is_int(seq) or seq < 1):
        checker.add(line, "seq", f"a positive integer was expected, found {seq!r}")
    if "kind" in obj and (not isinstance(kind, str) or not kind):
        checker.add(line, "kind", f"an event kind was expected, found {kind!r}")
    if "trial" in obj and trial is not None and (not _is_int(trial) or trial < 0):
        checker.add(line, "trial", f"a trial number or null was expected, found {trial!r}")
    if "key" in obj and key is not None and (not isinstance(key, str) or not key):
        checker.add(line, "key", f"a key or null was expected, found {key!r}")
    if "time" in obj and (
        not isinstance(when, int | float)
        or isinstance(when, bool)
        or not math.isfinite(when)
        or when < 0
    ):
        checker.add(line, "time", f"a time in seconds was expected, found {when!r}")
    if "data" in obj:
        if not isinstance(data, dict):
            checker.add(line, "data", f"a JSON object was expected, found {data!r}")
        else:
            try:
                dumps(data)
            except ValueError as exc:
                checker.add(line, "data", str(exc))
    if first_event and isinstance(kind, str) and kind != STUDY_CREATED:
        checker.add(line, "kind", f"the first event must be {STUDY_CREATED}, found {kind!r}")
    if kind == TRIAL_ASKED and isinstance(data, dict):
        cursor: Any = data.get("cursor")
        if not _is_int(cursor) or cursor < 0:
            checker.add(line, "data.cursor", f"a sequence number was expected, found {cursor!r}")
        elif _is_int(seq) and cursor >= seq:
            checker.add(
                line,
                "data.cursor",
                f"{cursor} is not below the event's own seq {seq}: "
                "an optimizer can only have read earlier events",
            )
    if len(checker.issues) > before:
        return None
    return Event(kind, study, trial, data, key, float(when), seq)


def _check_created(event: Event, line: int, study: str | None, checker: _Checker) -> None:
    name = event.data.get("name")
    if study is not None and name != study:
        checker.add(
            line,
            "data.name",
            f"this study.created is for study {name!r}, the header names {study!r}: "
            "the file holds more than one study",
        )
    if event.data.get("schema_version") != EVENT_SCHEMA_VERSION:
        checker.add(
            line,
            "data.schema_version",
            f"{event.data.get('schema_version')!r}; this hypertrail reads {EVENT_SCHEMA_VERSION}",
        )


def _fold(events: list[Event], lines: list[int], checker: _Checker) -> int:
    """Fold the events as a study would on load; the number of trials.

    Catches what the line-by-line checks cannot: a trial asked out of order, ended
    before it was asked, a second study.created."""
    from hypertrail.history import StudyState

    state = StudyState(events[0].study)
    for event, line in zip(events, lines, strict=True):
        if event.kind == STUDY_CREATED and state.created is not None:
            raise checker.fail_now(
                line,
                f"a second {STUDY_CREATED}: the file holds more than one study; "
                "export and import studies one at a time",
            )
        try:
            state.apply(event)
        except (HypertrailError, KeyError, TypeError, ValueError) as exc:
            raise checker.fail_now(line, f"the events do not fold into a study: {exc}") from None
    return len(state.trials)


# --- trials as CSV ------------------------------------------------------------------


def trial_rows(study: Study) -> tuple[list[str], list[list[Any]]]:
    """The trials of ``study`` as a header and one row per trial: number, state,
    under a fidelity its value (named as the fidelity, e.g. ``epochs``) and the rung,
    the parent when any trial has one (a promotion's, a mutation's), the step a trial
    was stopped at when any was, each metric, each parameter (empty when inactive),
    duration, reason, error.

    This is the table ``hypertrail trials`` prints and writes as CSV."""
    metric_names = [m.name for m in study.metrics]
    param_names = list(study.space.names)
    records = study.trials
    unit = next((t.fidelity_name for t in records if t.fidelity_name is not None), None)
    lineage: list[str] = []
    if unit is not None:
        lineage += [unit, "rung"]
    if any(t.parent is not None for t in records):
        lineage.append("parent")
    if any(t.stopped is not None for t in records):
        lineage.append("stopped")
    header = [
        "number",
        "state",
        *lineage,
        *metric_names,
        *param_names,
        "duration",
        "reason",
        "error",
    ]
    rows: list[list[Any]] = []
    for t in records:
        values = t.values or {}
        cells = {"rung": t.rung, "parent": t.parent, "stopped": t.stopped}
        if unit is not None:
            cells[unit] = t.fidelity
        rows.append(
            [
                t.number,
                t.state.value,
                *[_blank(cells[c]) for c in lineage],
                *[values.get(m, "") for m in metric_names],
                *[t.config.get(p, "") for p in param_names],
                "" if t.duration is None else f"{t.duration:.3f}",
                t.reason,
                t.error or "",
            ]
        )
    return header, rows


def _blank(value: object) -> object:
    """A cell: None as empty, a whole float as an integer (``epochs`` 9, not 9.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def write_trials_csv(study: Study, out: IO[str]) -> int:
    """Write :func:`trial_rows` of ``study`` to ``out`` as CSV; return the row count."""
    header, rows = trial_rows(study)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return len(rows)


def export_trials_csv(log: EventLog, study: str, out: IO[str]) -> int:
    """Write the trials of ``study`` in ``log`` to ``out`` as CSV; return their count.

    Raises:
        StudyError: ``log`` holds no study named ``study``.
    """
    from hypertrail.study import Study

    with Study.load(study, log) as loaded:
        return write_trials_csv(loaded, out)
