"""``hypertrail checkpoints STUDY [--keep N]``: the checkpoint folders, and pruning them."""

from __future__ import annotations

import click

from hypertrail.cli.common import handle_errors, resolve_study

__all__ = ["checkpoints"]


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _folders(n: int) -> str:
    return f"{n} checkpoint folder{'' if n == 1 else 's'}"


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--storage", "-s", help="Storage URL or .db file (default: $HYPERTRAIL_STORAGE or ./STUDY.db)."
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    help="Delete every folder but the N best configurations' (and running ones).",
)
@handle_errors
def checkpoints(study_name: str, storage: str | None, keep: int | None) -> None:
    """List the checkpoint folders of STUDY (a study name, or its plan file), best
    first: furthest trained, then lowest loss. With --keep N, delete the others.

    A configuration promoted later whose folder was deleted trains from scratch.
    """
    from rich.console import Console
    from rich.table import Table

    from hypertrail.schedulers.checkpoints import checkpoint_folders, prune_checkpoints
    from hypertrail.study import Study

    name, url = resolve_study(study_name, storage)
    with Study.load(name, url) as study:
        folders = checkpoint_folders(study)
        if not folders:
            click.echo(f"{name}: no checkpoint folders")
            return
        if keep is not None:
            removed = prune_checkpoints(study, keep)
            freed = sum(f.size for f in removed)
            click.echo(
                f"{name}: deleted {len(removed)} of {_folders(len(folders))}, "
                f"{_mib(freed)} freed; kept {len(folders) - len(removed)}"
            )
            return
        total = sum(f.size for f in folders)
        where = folders[0].path.parent  # <root>/<study>: every folder is in it
        table = Table(title=f"{name}: {_folders(len(folders))} in {where}, {_mib(total)}")
        for column in ("rank", "folder", "trials", "trained to", "loss", "size", "state"):
            table.add_column(column, overflow="fold")
        for rank, f in enumerate(folders, 1):
            table.add_row(
                str(rank),
                f.path.name,
                ", ".join(f"#{n}" for n in f.trials),
                "-" if f.fidelity is None else f"{f.fidelity:g}",
                f"{f.loss:.5g}",
                _mib(f.size),
                "running" if f.running else "",
            )
        Console().print(table)
