"""``hypertrail run PLAN``: run (or continue) the study a plan describes."""

from __future__ import annotations

import click

from hypertrail.cli.common import handle_errors

__all__ = ["run"]


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--workers", type=click.IntRange(min=1), help="Override the plan's workers.")
@click.option("--trials", type=click.IntRange(min=1), help="Override the plan's trial budget.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@handle_errors
def run(plan_file: str, workers: int | None, trials: int | None, progress: bool) -> None:
    """Run the study of PLAN_FILE up to its budget; running again continues it."""
    from hypertrail.plan import load_plan
    from hypertrail.progress import ProgressBar
    from hypertrail.reporting.summary import print_summary
    from hypertrail.study import Study

    plan = load_plan(plan_file)
    objective = plan.load_objective()
    study = Study.create(
        plan.name,
        plan.space,
        metrics=plan.metrics,
        storage=plan.storage,
        seed=plan.seed,
        optimizer=plan.optimizer,
        load_if_exists=True,
        info={"plan_hash": plan.hash, "plan_file": plan.source},
    )
    with study:
        budget = trials or plan.budget.trials
        done_before = len(study.trials)
        click.echo(
            f"study {plan.name!r} in {plan.storage}: {done_before} trials recorded, "
            f"budget {budget if budget is not None else 'unbounded'} trials"
            + (f", {plan.budget.wall_time:g} s" if plan.budget.wall_time else ""),
            err=True,
        )
        bar = ProgressBar(study, total=budget, enabled=progress)
        with bar:
            study.optimize(
                objective,
                max_trials=budget,
                workers=workers or plan.workers,
                timeout=plan.timeout,
                wall_time=plan.budget.wall_time,
                callbacks=[bar],
            )
        print_summary(study)
