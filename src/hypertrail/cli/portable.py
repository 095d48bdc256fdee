"""``hypertrail export STUDY`` and ``hypertrail import FILE``: move a study between
storages as JSON lines (module :mod:`hypertrail.portable`)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click

from hypertrail.cli.common import handle_errors, resolve_study, storage_url

__all__ = ["export_command", "import_command"]


@click.command("export")
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--storage", "-s", help="Storage URL or .db file (default: $HYPERTRAIL_STORAGE or ./STUDY.db)."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the events to this .jsonl file (default: standard output).",
)
@click.option(
    "--trials-csv",
    type=click.Path(dir_okay=False),
    help="Also write the trials, one row each, to this CSV file.",
)
@handle_errors
def export_command(
    study_name: str, storage: str | None, output: str | None, trials_csv: str | None
) -> None:
    """Export the event log of STUDY (a name, or its plan file) as JSON lines,
    for `hypertrail import` into any storage."""
    from hypertrail.portable import export_study, export_trials_csv
    from hypertrail.storage.base import open_storage

    name, url = resolve_study(study_name, storage)
    log = open_storage(url)
    try:
        notes = []
        if output is None:
            export_study(log, name, sys.stdout)
        else:
            count = _write_replacing(Path(output), lambda out: export_study(log, name, out))
            notes.append(f"{count} events to {output}")
        if trials_csv is not None:
            rows = _write_replacing(Path(trials_csv), lambda out: export_trials_csv(log, name, out))
            notes.append(f"{rows} trials to {trials_csv}")
        if notes:
            click.echo(f"exported study {name!r}: " + ", ".join(notes), err=True)
    finally:
        log.close()


def _write_replacing(path: Path, write: Callable[[IO[str]], int]) -> int:
    """Write through a temporary file beside ``path``, moved over it only once
    complete: a failed export leaves no partial file behind."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            count = write(out)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return count


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--storage",
    "-s",
    envvar="HYPERTRAIL_STORAGE",
    required=True,
    help="Target storage: URL or .db file, created if missing (default: $HYPERTRAIL_STORAGE).",
)
@click.option("--name", help="Import the study under this name (default: its name in FILE).")
@handle_errors
def import_command(file: str, storage: str, name: str | None) -> None:
    """Import a study exported with `hypertrail export` (FILE, or - for standard
    input). The whole file is checked first; nothing is written unless it is valid
    and the study's name is free."""
    from hypertrail.portable import import_study
    from hypertrail.storage.base import open_storage

    log = open_storage(_target_url(storage))
    try:
        if file == "-":
            result = import_study(sys.stdin, log, name)
        else:
            with open(file, encoding="utf-8") as source:
                result = import_study(source, log, name)
    finally:
        log.close()
    renamed = f" (named {result.source!r} in the file)" if result.study != result.source else ""
    click.echo(
        f"imported study {result.study!r}{renamed}: {result.events} events, "
        f"{result.trials} trials into {log.url}"
    )


def _target_url(value: str) -> str:
    """A storage URL; unlike other commands, a .db file that does not exist yet is
    created."""
    if "://" in value or value == "memory" or Path(value).exists():
        return storage_url(value)
    return f"sqlite:///{Path(value).resolve()}"
