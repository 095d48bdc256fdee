"""``hypertrail status [STORAGE]``: the studies in a storage, counts and best."""

from __future__ import annotations

import os

import click

from hypertrail.cli.common import fail, handle_errors, storage_url

__all__ = ["status"]


@click.command()
@click.argument("storage", required=False)
@handle_errors
def status(storage: str | None) -> None:
    """List the studies in STORAGE (a URL, a .db file or a plan), with counts and best."""
    from rich.console import Console
    from rich.table import Table

    from hypertrail.storage.base import open_storage
    from hypertrail.study import Study

    target = storage or os.environ.get("HYPERTRAIL_STORAGE")
    if not target:
        fail("give a STORAGE (URL, .db file or plan) or set HYPERTRAIL_STORAGE")
    log = open_storage(storage_url(target))
    try:
        table = Table(title=f"studies in {log.url}")
        for column in ("study", "trials", "complete", "failed", "running", "best", "optimizer"):
            table.add_column(
                column,
                justify="right"
                if column in ("trials", "complete", "failed", "running")
                else "left",
            )
        for name in log.studies():
            study = Study.load(name, log)
            counts = study.counts()
            best = study.history().best_trained()
            best_text = "-"
            if best is not None and best.values:
                best_text = (
                    ", ".join(f"{k}={v:.6g}" for k, v in best.values.items()) + f" (#{best.number})"
                )
            table.add_row(
                name,
                str(sum(counts.values())),
                str(counts["complete"]),
                str(counts["failed"]),
                str(counts["running"]),
                best_text,
                str(study.optimizer_spec.get("name")),
            )
        Console().print(table)
    finally:
        log.close()
