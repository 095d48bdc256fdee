"""``hypertrail compare PLAN --optimizers hybrid,tpe,random --seeds 10 --budget 100``."""

from __future__ import annotations

from pathlib import Path

import click

from hypertrail.cli.common import handle_errors

__all__ = ["compare"]


def _seed_list(text: str) -> list[int]:
    """``10`` -> 0..9; ``3,5,8`` -> those; ``2-6`` -> 2..6."""
    text = text.strip()
    try:
        if "," in text:
            return [int(s) for s in text.split(",") if s.strip()]
        if "-" in text[1:]:
            low, high = text.split("-", 1)
            return list(range(int(low), int(high) + 1))
        count = int(text)
    except ValueError:
        message = f"{text!r}: give a count (10), a list (1,2,3) or a range (0-9)"
        raise click.BadParameter(message) from None
    if count < 1:
        raise click.BadParameter("at least one seed")
    return list(range(count))


@click.command()
@click.argument("plan_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--problem", help="A packaged benchmark problem instead of a plan.")
@click.option(
    "--optimizers",
    default="hybrid,gp,tpe,random",
    show_default=True,
    help="Comma list of optimizer names (structure-only and numeric-only are ablations).",
)
@click.option("--seeds", default="10", show_default=True, help="A count, a list or a range.")
@click.option(
    "--budget",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Trials per run; with a fidelity in the plan, its units (epochs) per run.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Studies run at once, in worker processes.",
)
@click.option("--storage", help="Where the studies go (default: a SQLite file beside the plan).")
@click.option("--output", type=click.Path(file_okay=False), help="Folder for the table and plots.")
@handle_errors
def compare(
    plan_file: str | None,
    problem: str | None,
    optimizers: str,
    seeds: str,
    budget: int,
    jobs: int,
    storage: str | None,
    output: str | None,
) -> None:
    """Run each optimizer on the same seeds with the same budget, on PLAN_FILE's
    objective or a --problem, and write a table, pairwise tests and plots.

    Every run is a study of its own in the storage: running the command again
    continues unfinished runs and recomputes the table. With a fidelity in the plan,
    each optimizer proposes under the plan's scheduler, the budget counts the
    fidelity's units and a run's value is its best at the top fidelity.
    """
    from rich.console import Console
    from rich.table import Table

    from hypertrail.analysis.compare import RunRecord, Target
    from hypertrail.analysis.compare import compare as run_compare
    from hypertrail.reporting.comparison import write_outputs

    if (plan_file is None) == (problem is None):
        raise click.UsageError("give a PLAN_FILE or --problem NAME (one of them)")
    seed_list = _seed_list(seeds)
    if plan_file is not None:
        target = Target.plan(plan_file)
        base = Path(plan_file).resolve().parent
        name = target.name
    else:
        assert problem is not None
        target = Target.problem(problem)
        base = Path.cwd()
        name = problem
    url = storage or f"sqlite:///{base / f'{name}-compare.db'}"
    folder = Path(output) if output else base / f"{name}-compare"
    names = [n.strip() for n in optimizers.split(",")]
    console = Console(stderr=True)
    total = len(names) * len(seed_list)
    done = 0

    def report(record: RunRecord) -> None:
        nonlocal done
        done += 1
        console.print(
            f"[{done}/{total}] {record.optimizer:<16} seed {record.seed:<3} "
            f"best {record.final:.6g}  ({record.evaluations} trials, {record.wall_time:.1f} s)"
        )

    result = run_compare(
        target, names, seeds=seed_list, budget=budget, storage=url, jobs=jobs, on_run=report
    )
    title = f"{name}: {result.metric.name} ({result.metric.goal}), {budget} {result.unit}"
    table = Table(title=title + ("" if result.unit == "trials" else " (best at the top fidelity)"))
    for column in ("optimizer", "final mean [95% CI]", "AUC mean", "rank", "s.d.", "wall s"):
        table.add_column(column, justify="left" if column == "optimizer" else "right")
    for row in result.rows():
        low, high = row["final_ci"]
        table.add_row(
            row["optimizer"],
            f"{row['final_mean']:.5g} [{low:.4g}, {high:.4g}]",
            f"{row['auc_mean']:.5g}",
            f"{row['mean_rank']:.2f}",
            f"{row['final_std']:.3g}",
            f"{row['wall_time']:.1f}",
        )
    Console().print(table)
    significant = [t for t in result.tests() if t.significant()]
    for t in significant:
        click.echo(
            f"{t.better} better than {t.b if t.better == t.a else t.a} (p Holm {t.p_holm:.3g})"
        )
    if not significant:
        click.echo("no pair differs significantly (Wilcoxon, Holm-corrected p < 0.05)")
    for path in write_outputs(result, folder):
        click.echo(f"wrote {path}")
