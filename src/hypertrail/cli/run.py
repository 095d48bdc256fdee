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
@click.option(
    "--amend",
    metavar="REASON",
    help="Run a plan changed since `hypertrail lock`; the reason is recorded in the audit.",
)
@handle_errors
def run(
    plan_file: str, workers: int | None, trials: int | None, progress: bool, amend: str | None
) -> None:
    """Run the study of PLAN_FILE up to its budget; running again continues it, and
    first takes over the trials a crashed or killed run left unfinished."""
    from hypertrail.audit import check_plan
    from hypertrail.plan import load_plan
    from hypertrail.progress import ProgressBar
    from hypertrail.reporting.summary import print_summary

    plan = load_plan(plan_file)
    objective = plan.load_objective()
    study = plan.open_study()
    try:
        amended = check_plan(study, plan, amend)
    except BaseException:
        study.close()
        raise
    if amended:
        click.echo(f"study {plan.name!r}: plan {amended}", err=True)
    with study:
        budget = trials or plan.budget.trials
        done_before = len(study.trials)
        lost = study.lost_trials()
        fidelity = plan.optimizer.get("fidelity") if isinstance(plan.optimizer, dict) else None
        unit_name = str(fidelity.get("name")) if isinstance(fidelity, dict) else "fidelity units"
        limits = [f"{budget} trials"] if budget is not None else []
        if plan.budget.fidelity:
            limits.append(f"{plan.budget.fidelity:g} {unit_name}")
        if plan.budget.wall_time:
            limits.append(f"{plan.budget.wall_time:g} s")
        click.echo(
            f"study {plan.name!r} in {plan.storage}: {done_before} trials recorded"
            + (f" ({len(lost)} left unfinished by a lost run, taken over first)" if lost else "")
            + ", budget "
            + (", ".join(limits) or "unbounded"),
            err=True,
        )
        units = None
        if budget is None and plan.budget.fidelity:
            units = (unit_name, plan.budget.fidelity)
        bar = ProgressBar(study, total=budget, enabled=progress, units=units)
        with bar:
            study.optimize(
                objective,
                max_trials=budget,
                workers=workers or plan.workers,
                timeout=plan.timeout,
                wall_time=plan.budget.wall_time,
                fidelity_budget=plan.budget.fidelity,
                callbacks=[bar],
            )
        print_summary(study)
