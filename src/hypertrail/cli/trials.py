"""``hypertrail trials STUDY``: every trial as a table, CSV or JSON."""

from __future__ import annotations

import json
import sys

import click

from hypertrail.cli.common import handle_errors, resolve_study

__all__ = ["trials"]


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--storage", "-s", help="Storage URL or .db file (default: $HYPERTRAIL_STORAGE or ./STUDY.db)."
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@handle_errors
def trials(study_name: str, storage: str | None, fmt: str) -> None:
    """Print the trials of STUDY (a study name, or its plan file)."""
    from hypertrail.portable import trial_rows, write_trials_csv
    from hypertrail.study import Study

    name, url = resolve_study(study_name, storage)
    with Study.load(name, url) as study:
        records = study.trials
        if fmt == "json":
            click.echo(json.dumps([t.to_json() for t in records], indent=2))
            return
        if fmt == "csv":
            write_trials_csv(study, sys.stdout)
            return
        header, rows = trial_rows(study)
        shown = header[:-3]  # the table leaves out duration, reason and error
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{name}: {len(records)} trials")
        for column in shown:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[_cell(v) for v in row[: len(shown)]])
        Console().print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)
