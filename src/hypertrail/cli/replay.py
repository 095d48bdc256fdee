"""``hypertrail replay STUDY``: re-derive every proposal and compare it to the log."""

from __future__ import annotations

import click

from hypertrail.cli.common import handle_errors, resolve_study

__all__ = ["replay"]


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--storage", "-s", help="Storage URL or .db file (default: $HYPERTRAIL_STORAGE or ./STUDY.db)."
)
@click.option("--quiet", "-q", is_flag=True, help="Print only differences and the verdict.")
@handle_errors
def replay(study_name: str, storage: str | None, quiet: bool) -> None:
    """Replay STUDY without running its objective: exit 0 only when every trial's
    proposal is re-derived identically from the event log and the seed."""
    import sys

    from hypertrail.replay import verify
    from hypertrail.study import Study

    name, url = resolve_study(study_name, storage)
    with Study.load(name, url) as study:  # checks that the study exists
        report = verify(study.storage, name)
    for verdict in report.trials:
        if verdict.identical:
            if not quiet:
                click.echo(f"trial {verdict.trial}: identical")
        else:
            click.echo(f"trial {verdict.trial}: DIFFERENT: {verdict.detail}")
    if report.ok:
        click.echo(f"replay of {name!r}: all {report.checked} proposals identical")
        return
    first = report.first
    assert first is not None
    click.echo(
        f"replay of {name!r}: {len(report.mismatches)} of {report.checked} proposals differ; "
        f"the first is trial {first.trial} ({first.detail})",
        err=True,
    )
    sys.exit(1)
