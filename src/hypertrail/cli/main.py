"""Entry point of the ``hypertrail`` command."""

from __future__ import annotations

import click

from hypertrail import __version__
from hypertrail.cli.checkpoints import checkpoints
from hypertrail.cli.compare import compare
from hypertrail.cli.lock import lock
from hypertrail.cli.portable import export_command, import_command
from hypertrail.cli.replay import replay
from hypertrail.cli.report import dashboard, report
from hypertrail.cli.rerun import rerun
from hypertrail.cli.run import run
from hypertrail.cli.show import show
from hypertrail.cli.status import status
from hypertrail.cli.trials import trials
from hypertrail.cli.validate import validate

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hypertrail")
def cli() -> None:
    """Reproducible hyperparameter and architecture search."""


cli.add_command(validate)
cli.add_command(run)
cli.add_command(status)
cli.add_command(trials)
cli.add_command(show)
cli.add_command(replay)
cli.add_command(lock)
cli.add_command(rerun)
cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(compare)
cli.add_command(checkpoints)
cli.add_command(report)
cli.add_command(dashboard)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
