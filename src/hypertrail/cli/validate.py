"""``hypertrail validate FILE``: check a space or plan file and summarize it."""

from __future__ import annotations

import sys

import click

from hypertrail.cli.common import EXIT_INVALID
from hypertrail.errors import ConfigError
from hypertrail.space.space import Space

__all__ = ["summarize_space", "validate"]


def summarize_space(space: Space) -> list[str]:
    """Lines describing a space: sizes, the active-set tree, the fingerprint."""
    params = space.params
    conditional = [p for p in params if p.condition is not None]
    continuous = [p for p in params if p.domain.cardinality() is None]
    discrete = [p for p in params if p.domain.cardinality() is not None and p.domain.has_dimension]
    lines = [
        f"parameters: {len(space.declared)} declared, {len(params)} after expanding blocks "
        f"({len(discrete)} discrete, {len(continuous)} continuous, "
        f"{len(params) - len(discrete) - len(continuous)} fixed)",
        f"conditional: {len(conditional)}; constraints: {len(space.constraints)}",
    ]
    card = space.discrete_cardinality()
    qualifier = "at most " if conditional or space.constraints else ""
    shown = f"{card:,}" if card < 10**15 else f"{float(card):.3g}"
    lines.append(f"discrete part: {qualifier}{shown} combinations")
    lines.append("structure (a parameter under another is active only when its condition holds):")
    lines.extend(_tree(space))
    lines.append(f"fingerprint: {space.fingerprint}")
    return lines


def _describe(param_domain: object) -> str:
    from hypertrail.space.params import Categorical, Fixed, Float, Int

    d = param_domain
    if isinstance(d, Fixed):
        return f"fixed {d.value!r}"
    if isinstance(d, Categorical):
        choices = list(d.choices)
        shown = ", ".join(map(str, choices[:6])) + (", …" if len(choices) > 6 else "")
        return f"{d.kind} [{shown}] ({len(choices)})"
    if isinstance(d, Float | Int):
        scale = " log" if d.log else ""
        step = f" step {d.step:g}" if d.step is not None else ""
        return f"{d.kind} [{d.low:g}, {d.high:g}]{scale}{step}"
    return type(d).__name__


def _tree(space: Space) -> list[str]:
    # Each conditional param hangs under the last param (in space order) it reads.
    children: dict[str | None, list[str]] = {}
    for param in space.params:
        parent = None
        if param.condition is not None:
            refs = [p.name for p in space.params if p.name in param.condition.names]
            parent = refs[-1] if refs else None
        children.setdefault(parent, []).append(param.name)
    lines: list[str] = []

    def walk(name: str | None, depth: int) -> None:
        for child in children.get(name, []):
            param = space[child]
            when = f"  when {param.condition}" if param.condition is not None else ""
            lines.append(f"{'  ' * depth}- {child}: {_describe(param.domain)}{when}")
            walk(child, depth + 1)

    walk(None, 1)
    return lines


def _looks_like_plan(path: str) -> bool:
    from hypertrail.errors import SpaceError
    from hypertrail.space.loader import load_document

    try:
        doc = load_document(path, SpaceError)
    except ConfigError:
        return False
    return (
        isinstance(doc.data, dict)
        and "params" not in doc.data
        and ("objective" in doc.data or "space" in doc.data)
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check a space or plan FILE; exit 0 when valid, 2 with every error otherwise."""
    from hypertrail.space.loader import load_space

    try:
        if _looks_like_plan(file):
            from hypertrail.plan import load_plan

            plan = load_plan(file)
            objective = plan.load_objective()
            click.echo(f"{file}: valid plan {plan.name!r}")
            click.echo(
                f"  objective: {plan.objective.callable or plan.objective.command} "
                f"({type(objective).__name__})"
            )
            metrics = ", ".join(f"{m.name} ({m.goal})" for m in plan.metrics)
            click.echo(f"  metrics: {metrics}")
            click.echo(
                f"  budget: trials={plan.budget.trials} wall_time={plan.budget.wall_time}"
                + (f" fidelity={plan.budget.fidelity:g}" if plan.budget.fidelity else "")
            )
            click.echo(f"  optimizer: {plan.optimizer}; seed {plan.seed}; workers {plan.workers}")
            click.echo(f"  storage: {plan.storage}")
            click.echo(f"  plan hash: {plan.hash}")
            space = plan.space
        else:
            space = load_space(file)
            click.echo(f"{file}: valid space")
    except ConfigError as exc:
        click.echo(
            f"{file}: invalid ({len(exc.issues)} problem{'s' if len(exc.issues) != 1 else ''})",
            err=True,
        )
        for issue in exc.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(EXIT_INVALID)
    except Exception as exc:  # objective import errors and the like
        from hypertrail.errors import HypertrailError

        if not isinstance(exc, HypertrailError):
            raise
        click.echo(f"{file}: invalid\n  objective: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    for line in summarize_space(space):
        click.echo(f"  {line}")
