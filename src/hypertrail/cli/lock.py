"""``hypertrail lock PLAN``: preregister a plan; later runs of a changed plan need
``--amend REASON``."""

from __future__ import annotations

import click

from hypertrail.cli.common import handle_errors

__all__ = ["lock"]


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@handle_errors
def lock(plan_file: str) -> None:
    """Record PLAN_FILE's hash in its study (created if needed) before any run."""
    from hypertrail.audit import lock_plan
    from hypertrail.plan import load_plan

    plan = load_plan(plan_file)
    with plan.open_study() as study:
        if lock_plan(study, plan):
            click.echo(f"locked plan of study {plan.name!r}: {plan.hash}")
        else:
            click.echo(f"study {plan.name!r} is already locked with this plan: {plan.hash}")
