"""``hypertrail trials STUDY``: every trial as a table, CSV or JSON."""

from __future__ import annotations

import csv
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
    from hypertrail.study import Study

    name, url = resolve_study(study_name, storage)
    with Study.load(name, url) as study:
        records = study.trials
        metric_names = [m.name for m in study.metrics]
        param_names = study.space.names
        if fmt == "json":
            click.echo(json.dumps([t.to_json() for t in records], indent=2))
            return
        header = ["number", "state", *metric_names, *param_names, "duration", "reason", "error"]
        rows = []
        for t in records:
            values = t.values or {}
            rows.append(
                [
                    t.number,
                    t.state.value,
                    *[values.get(m, "") for m in metric_names],
                    *[t.config.get(p, "") for p in param_names],
                    "" if t.duration is None else f"{t.duration:.3f}",
                    t.reason,
                    t.error or "",
                ]
            )
        if fmt == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{name}: {len(records)} trials")
        shown = ["number", "state", *metric_names, *param_names]
        for column in shown:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[_cell(v) for v in row[: len(shown)]])
        Console().print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)
