"""Portable export and import: a real study moves between storages and still replays."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hypertrail import Categorical, Float, Int, Space, Study, StudyError, Trial, TrialState
from hypertrail.errors import ConfigError, StorageError
from hypertrail.portable import (
    FORMAT,
    ImportResult,
    export_study,
    export_trials_csv,
    import_study,
)
from hypertrail.replay import verify
from hypertrail.storage import Event, EventLog, MemoryEventLog, open_storage
from hypertrail.storage.events import EVENT_SCHEMA_VERSION, TRIAL_ASKED

SPACE = Space(
    {
        "x": Float(0.0, 1.0),
        "kind": Categorical(["a", "b"]),
        "n": Int(1, 3, when="kind == 'b'"),
    }
)


def objective(trial: Trial) -> float:
    if trial.number == 4:
        raise ValueError("trial 4 always fails")
    c = trial.config
    return float((c["x"] - 0.3) ** 2 + (0.1 * c["n"] if c["kind"] == "b" else 0.2))


def noise(trial: Trial) -> float:
    return float(trial.config["x"])


@pytest.fixture(scope="module")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding study "main" (TPE, 15 trials, one failed) whose events
    are interleaved with those of study "noise", so its seqs have gaps."""
    path = tmp_path_factory.mktemp("source") / "source.db"
    log = open_storage(path)
    main = Study.create("main", SPACE, storage=log, seed=11, optimizer="tpe")
    other = Study.create("noise", SPACE, storage=log, seed=3, optimizer="random")
    for _ in range(3):
        main.optimize(objective, n_trials=5)
        other.optimize(noise, n_trials=2)
    main.close()
    other.close()
    log.close()
    return path


@pytest.fixture
def source(source_db: Path, tmp_path: Path) -> Iterator[EventLog]:
    """A private copy of the source file (some tests import into it)."""
    copy = tmp_path / "copy-of-source.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source_db}{suffix}").exists():
            shutil.copy(f"{source_db}{suffix}", f"{copy}{suffix}")
    log = open_storage(copy)
    yield log
    log.close()


def exported(log: EventLog, study: str = "main") -> str:
    out = io.StringIO()
    export_study(log, study, out)
    return out.getvalue()


def target_with_another_study(url: str | Path) -> EventLog:
    """A storage already holding a study with trials, so imported seqs differ."""
    log = open_storage(url)
    with Study.create("resident", SPACE, storage=log, seed=1, optimizer="random") as study:
        study.optimize(noise, n_trials=4)
    return log


def facts(trials: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [
        (t.number, t.state, dict(t.config), t.values, t.error, t.seed, t.parent, t.reason)
        for t in trials
    ]


def check_imported(source: EventLog, target: EventLog, name: str) -> None:
    """Same trials, same events but for seqs, cursors naming the same prefix, replay ok."""
    old = source.read("main")
    new = target.read(name)
    assert [(e.kind, e.key, e.trial, e.time) for e in new] == [
        (e.kind, e.key, e.trial, e.time) for e in old
    ]
    old_seqs = [e.seq or 0 for e in old]
    new_seqs = [e.seq or 0 for e in new]
    for before, after in zip(old, new, strict=True):
        data, expected = dict(after.data), dict(before.data)
        if before.kind == TRIAL_ASKED:
            seen_before = sum(s <= before.data["cursor"] for s in old_seqs)
            seen_after = sum(s <= after.data["cursor"] for s in new_seqs)
            assert seen_after == seen_before, f"trial {before.trial} sees another prefix"
            del data["cursor"], expected["cursor"]
        if before.kind == "study.created":
            expected["name"] = name
        assert data == expected
    report = verify(target, name)
    assert report.ok and report.checked == 15, report.mismatches
    with Study.load("main", source) as a, Study.load(name, target) as b:
        assert facts(b.trials) == facts(a.trials)
        assert [t.state for t in b.trials].count(TrialState.FAILED) == 1


# --- export ------------------------------------------------------------------------


def test_export_writes_a_header_then_every_event_in_order(source: EventLog) -> None:
    lines = exported(source).splitlines()
    header = json.loads(lines[0])
    events = source.read("main")
    assert header["format"] == FORMAT and header["format_version"] == 1
    assert header["event_schema_version"] == EVENT_SCHEMA_VERSION
    assert header["study"] == "main" and header["events"] == len(events) == len(lines) - 1
    assert "hypertrail_version" in header
    records = [json.loads(line) for line in lines[1:]]
    assert all(list(r) == ["seq", "kind", "trial", "key", "time", "data"] for r in records)
    assert [r["seq"] for r in records] == [e.seq for e in events]
    kinds = {r["kind"] for r in records}
    assert {"study.created", "trial.asked", "trial.failed", "session.started"} <= kinds
    assert exported(source) == exported(source), "an export depends only on the log"


def test_the_source_seqs_have_gaps(source: EventLog) -> None:
    seqs = [e.seq or 0 for e in source.read("main")]
    assert seqs[-1] - seqs[0] + 1 > len(seqs), "interleaving makes the translation matter"


def test_export_of_a_missing_study_names_the_studies_there(source: EventLog) -> None:
    with pytest.raises(StudyError, match=r"no study named 'nope'.*main, noise"):
        export_study(source, "nope", io.StringIO())


# --- round trips ---------------------------------------------------------------------


def test_round_trip_into_another_sqlite_file(source: EventLog, tmp_path: Path) -> None:
    target = target_with_another_study(tmp_path / "target.db")
    result = import_study(io.StringIO(exported(source)), target)
    assert result == ImportResult("main", "main", len(source.read("main")), 15)
    assert target.studies() == ["resident", "main"]
    check_imported(source, target, "main")
    assert verify(target, "resident").ok
    # The imported study goes on like any other, and still replays.
    with Study.load("main", target) as study:
        study.optimize(objective, n_trials=3)
        assert len(study.trials) == 18
    assert verify(target, "main").ok
    target.close()


def test_import_under_another_name_into_the_same_file(source: EventLog) -> None:
    result = import_study(io.StringIO(exported(source)), source, name="copy")
    assert (result.study, result.source, result.trials) == ("copy", "main", 15)
    assert source.studies() == ["main", "noise", "copy"]
    with Study.load("copy", source) as copy:
        assert copy.created["name"] == "copy"
    check_imported(source, source, "copy")


def test_import_into_memory(source: EventLog) -> None:
    target = MemoryEventLog()
    target.append([Event("unrelated", "elsewhere") for _ in range(7)])
    import_study(io.StringIO(exported(source)), target, name="m")
    check_imported(source, target, "m")


def test_round_trip_through_postgres(source: EventLog, postgres_url: str, tmp_path: Path) -> None:
    pg = target_with_another_study(postgres_url)
    try:
        import_study(io.StringIO(exported(source)), pg, name="main-pg")
        check_imported(source, pg, "main-pg")
        back = open_storage(tmp_path / "back.db")
        import_study(io.StringIO(exported(pg, "main-pg")), back, name="main")
        check_imported(source, back, "main")
        back.close()
    finally:
        pg.close()


# --- refusals ------------------------------------------------------------------------


def snapshot(log: EventLog) -> dict[str, int]:
    return {name: len(log.read(name)) for name in log.studies()}


def corrupt(text: str, how: str) -> tuple[str, int, str]:
    """A broken copy of an export, the line that must be named, and a phrase."""
    lines = text.splitlines(keepends=True)
    if how == "truncated line":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
        return "".join(lines), len(lines), "not a complete JSON object"
    if how == "unknown format":
        header = json.loads(lines[0])
        header["format"] = "optuna-journal"
        lines[0] = json.dumps(header) + "\n"
        return "".join(lines), 1, "not a hypertrail events export"
    if how == "seq not increasing":
        record = json.loads(lines[6])
        record["seq"] = json.loads(lines[5])["seq"]
        lines[6] = json.dumps(record) + "\n"
        return "".join(lines), 7, "sequence numbers must increase"
    if how == "missing study.created":
        header = json.loads(lines[0])
        header["events"] -= 1
        lines[0] = json.dumps(header) + "\n"
        del lines[1]
        return "".join(lines), 2, "the first event must be study.created"
    if how == "lines missing at the end":
        del lines[-3:]
        return "".join(lines), len(lines), "the header announces"
    if how == "cursor not below its seq":
        index = next(i for i, line in enumerate(lines) if '"trial.asked"' in line)
        record = json.loads(lines[index])
        record["data"]["cursor"] = record["seq"]
        lines[index] = json.dumps(record) + "\n"
        return "".join(lines), index + 1, "an optimizer can only have read earlier events"
    if how == "unknown field":
        record = json.loads(lines[3])
        record["extra"] = 1
        lines[3] = json.dumps(record) + "\n"
        return "".join(lines), 4, "unknown field"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "truncated line",
        "unknown format",
        "seq not increasing",
        "missing study.created",
        "lines missing at the end",
        "cursor not below its seq",
        "unknown field",
    ],
)
def test_an_invalid_file_is_refused_with_its_line_and_nothing_written(
    source: EventLog, tmp_path: Path, how: str
) -> None:
    text, line, phrase = corrupt(exported(source), how)
    path = tmp_path / "broken.jsonl"
    path.write_text(text)
    target = target_with_another_study(tmp_path / "target.db")
    before = snapshot(target)
    with path.open() as file, pytest.raises(ConfigError) as caught:
        import_study(file, target)
    issues = caught.value.issues
    assert any(i.line == line and phrase in i.message for i in issues), issues
    assert all(i.file == str(path) for i in issues)
    assert f"{path}:{line}: " in str(caught.value)
    assert snapshot(target) == before and target.read("main") == []
    target.close()


def test_a_file_with_two_studies_is_refused(source: EventLog) -> None:
    main, other = exported(source), exported(source, "noise")
    second_header = len(main.splitlines()) + 1
    target = MemoryEventLog()
    with pytest.raises(ConfigError) as caught:
        import_study(io.StringIO(main + other), target)
    lines = {i.line for i in caught.value.issues if "more than one study" in i.message}
    assert second_header in lines and second_header + 1 in lines
    assert target.studies() == []


def test_every_problem_is_reported_not_only_the_first(source: EventLog) -> None:
    lines = exported(source).splitlines(keepends=True)
    for index in (3, 8):
        record = json.loads(lines[index])
        record["trial"] = "seven"
        lines[index] = json.dumps(record) + "\n"
    lines[10] = "{not json\n"
    with pytest.raises(ConfigError) as caught:
        import_study(io.StringIO("".join(lines)), MemoryEventLog())
    assert [(i.line, i.path) for i in caught.value.issues] == [(4, "trial"), (9, "trial"), (11, "")]
    assert "3 problems found" in str(caught.value)


def test_events_that_do_not_fold_are_refused() -> None:
    log = MemoryEventLog()
    Study.create("s", SPACE, storage=log, optimizer="random").close()
    text = exported(log, "s").rstrip("\n").split("\n")
    header = json.loads(text[0])
    header["events"] = 2
    ended = {"seq": 9, "kind": "trial.completed", "trial": 0, "key": "trial:0:ended"}
    ended |= {"time": 1.0, "data": {"values": {"value": 1.0}}}
    content = "\n".join([json.dumps(header), text[1], json.dumps(ended)]) + "\n"
    with pytest.raises(ConfigError, match=r"line 3: .*ended before it was asked"):
        import_study(io.StringIO(content), MemoryEventLog())


def test_an_empty_file_or_another_format_is_not_read_further() -> None:
    with pytest.raises(ConfigError, match="the file is empty"):
        import_study(io.StringIO(""), MemoryEventLog())
    with pytest.raises(ConfigError) as caught:
        import_study(io.StringIO("a,b,c\n1,2,3\n"), MemoryEventLog())
    assert len(caught.value.issues) == 1 and caught.value.issues[0].line == 1
    newer = {"format": FORMAT, "format_version": 2, "event_schema_version": 1}
    with pytest.raises(ConfigError, match="format version 2"):
        import_study(io.StringIO(json.dumps(newer) + "\n"), MemoryEventLog())


def test_an_existing_name_is_refused_and_nothing_written(source: EventLog) -> None:
    before = snapshot(source)
    with pytest.raises(StudyError, match=r"'main' already exists.*--name"):
        import_study(io.StringIO(exported(source)), source)
    with pytest.raises(StudyError, match=r"'noise' already exists"):
        import_study(io.StringIO(exported(source)), source, name="noise")
    assert snapshot(source) == before


def test_an_invalid_new_name_is_refused(source: EventLog) -> None:
    with pytest.raises(StudyError, match="non-empty string"):
        import_study(io.StringIO(exported(source)), MemoryEventLog(), name="  ")


class PlainLog:
    """An event log with only the required protocol (no append_linked)."""

    url = "plain"

    def __init__(self) -> None:
        self.inner = MemoryEventLog()

    def append(self, events: Sequence[Event]) -> list[int]:
        return self.inner.append(events)

    def read(self, study: str, after: int = 0) -> list[Event]:
        return self.inner.read(study, after)

    def studies(self) -> list[str]:
        return self.inner.studies()

    def close(self) -> None:
        self.inner.close()


def test_a_storage_without_linked_appends_is_refused(source: EventLog) -> None:
    target = PlainLog()
    with pytest.raises(StorageError, match="append_linked"):
        import_study(io.StringIO(exported(source)), target)
    assert target.studies() == []


# --- trials as CSV ---------------------------------------------------------------------


def test_trials_csv(source: EventLog) -> None:
    out = io.StringIO()
    assert export_trials_csv(source, "main", out) == 15
    rows = out.getvalue().splitlines()
    assert rows[0].split(",")[:4] == ["number", "state", "value", "x"]
    assert len(rows) == 16 and rows[5].startswith("4,failed,")
    with pytest.raises(StudyError, match="no study named 'nope'"):
        export_trials_csv(source, "nope", io.StringIO())
