"""The end-of-run summary printed by ``hypertrail run``: best trial, counts, top five."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypertrail.trial import furthest_trained

if TYPE_CHECKING:
    from hypertrail.study import Study

__all__ = ["print_summary", "summary_lines"]


def summary_lines(study: Study, top: int = 5) -> list[str]:
    """The summary as plain lines (tested without a terminal)."""
    history = study.history()
    counts = study.counts()
    total = sum(counts.values())
    lines = [
        f"study {study.name!r}: {total} trials ({counts['complete']} complete, "
        f"{counts['failed']} failed, {counts['running']} running)"
    ]
    trained = furthest_trained(history.completed())  # under a fidelity, the furthest
    ordered = sorted(trained, key=lambda t: (history.loss(t), t.number))
    if not ordered:
        lines.append("no complete trial yet")
        return lines
    best, ranked = ordered[0], ordered[:top]  # best: what History.best_trained() gives
    values = ", ".join(f"{k} = {v:.6g}" for k, v in (best.values or {}).items())
    lines.append(f"best trial #{best.number}: {values}")
    lines.extend(f"  {name} = {value!r}" for name, value in best.config.items())
    metric = study.metrics[0]
    at = f" at {best.fidelity_name}={best.fidelity:g}" if best.fidelity is not None else ""
    lines.append(f"top {len(ranked)} by {metric.name} ({metric.goal}){at}:")
    for t in ranked:
        value = (t.values or {})[metric.name]
        lines.append(f"  #{t.number:<4d} {value:.6g}   {t.reason}")
    return lines


def print_summary(study: Study) -> None:
    from rich.console import Console

    console = Console()
    for i, line in enumerate(summary_lines(study)):
        console.print(line, style="bold" if i in (0, 1) else None, highlight=False)
