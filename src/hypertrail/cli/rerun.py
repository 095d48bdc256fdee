"""``hypertrail rerun PLAN --best 3 --seeds 5``: the spread behind the best results."""

from __future__ import annotations

import click

from hypertrail.cli.common import handle_errors

__all__ = ["rerun"]


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--best",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="How many of the best distinct configurations.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Reruns per configuration (missing ones only are run).",
)
@click.option(
    "--trial",
    "trials",
    type=click.IntRange(min=0),
    multiple=True,
    help="Rerun these trial numbers instead of the best.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Override the plan's workers.")
@handle_errors
def rerun(
    plan_file: str, best: int, seeds: int, trials: tuple[int, ...], workers: int | None
) -> None:
    """Evaluate the best configurations of PLAN_FILE's study again with new seeds
    and print each one's mean, spread and 95% interval."""
    from rich.console import Console
    from rich.table import Table

    from hypertrail.plan import load_plan
    from hypertrail.reruns import rerun as run_reruns
    from hypertrail.study import Study

    plan = load_plan(plan_file)
    objective = plan.load_objective()
    with Study.load(plan.name, plan.storage) as study:
        study.recovery = plan.recovery
        summaries = run_reruns(
            study,
            objective,
            best=best,
            seeds=seeds,
            trials=list(trials) or None,
            workers=workers or plan.workers,
            timeout=plan.timeout,
        )
        metric = study.metrics[0]
    table = Table(title=f"{plan.name}: reruns of {metric.name} ({metric.goal})")
    for column in ("trial", "original", "reruns", "mean", "std", "95% interval", "failed"):
        table.add_column(column, justify="right")
    for s in summaries:
        interval = s.interval
        table.add_row(
            f"#{s.trial}",
            _num(s.original),
            str(s.n),
            _num(s.mean),
            _num(s.std),
            f"[{interval[0]:.5g}, {interval[1]:.5g}]" if interval else "-",
            str(s.failed),
        )
    Console().print(table)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.5g}"
