"""A comparison rendered: Markdown tables, a self-contained HTML page, JSON."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

from hypertrail.reporting.plots import anytime_bands, anytime_figure, figures_html, finals_figure

if TYPE_CHECKING:
    from hypertrail.analysis.compare import Comparison

__all__ = ["to_html", "to_markdown", "write_outputs"]


def _g(x: float) -> str:
    return f"{x:.4g}"


def _summary_lines(c: Comparison) -> list[str]:
    better = "lower" if c.metric.goal == "minimize" else "higher"
    lines = [
        f"| optimizer | final {c.metric.name} (mean [95% CI]) | area under best-so-far "
        "(mean [95% CI]) | mean rank | s.d. | min – max | evaluations | failed | wall s | CPU s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in c.rows():
        low, high = row["final_ci"]
        auc_low, auc_high = row["auc_ci"]
        lines.append(
            f"| {row['optimizer']} | {_g(row['final_mean'])} [{_g(low)}, {_g(high)}] | "
            f"{_g(row['auc_mean'])} [{_g(auc_low)}, {_g(auc_high)}] | {row['mean_rank']:.2f} | "
            f"{_g(row['final_std'])} | {_g(row['final_min'])} – {_g(row['final_max'])} | "
            f"{row['evaluations']} | {row['failed']} | {row['wall_time']:.1f} | "
            f"{row['cpu_time']:.1f} |"
        )
    at_top = (
        ""
        if c.unit == "trials"
        else f" A run's value is its best at the top {c.unit}; promotions count the {c.unit} "
        f"they add, and the area is read over {c.unit} spent."
    )
    lines += [
        "",
        f"{len(c.seeds)} seeds ({', '.join(map(str, c.seeds))}), {c.budget} {c.unit} per run; "
        f"{better} is better. Ranks are per seed, averaged (1 = best). Intervals: 95 % "
        f"bootstrap of the mean over seeds.{at_top}",
    ]
    return lines


def _tests_lines(c: Comparison) -> list[str]:
    lines = [
        "| pair | seeds | Wilcoxon W | p | p (Holm) | better |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for t in c.tests():
        mark = " *" if t.significant() else ""
        lines.append(
            f"| {t.a} vs {t.b} | {t.n} | {t.statistic:g} | {t.p:.3g} | {t.p_holm:.3g}{mark} | "
            f"{t.better or 'tie'} |"
        )
    lines += [
        "",
        "Two-sided Wilcoxon signed-rank tests on final values paired by seed, Holm-corrected "
        "over all pairs; * marks p < 0.05. With fewer than 6 seeds no pair can reach it.",
    ]
    return lines


def to_markdown(c: Comparison) -> str:
    """The summary and the pairwise tests as Markdown."""
    head = [
        f"# Comparison on {c.target}",
        "",
        f"Metric `{c.metric.name}` ({c.metric.goal}); studies in `{c.storage}`.",
        "",
    ]
    return "\n".join([*head, *_summary_lines(c), "", "## Pairwise tests", "", *_tests_lines(c)])


def _table_html(lines: list[str]) -> str:
    """A Markdown pipe table (header, rule, rows) as an HTML table."""
    rows = [ln for ln in lines if ln.startswith("|")]
    cells = [[html.escape(x.strip()) for x in r.strip("|").split("|")] for r in rows]
    head = "".join(f"<th>{x}</th>" for x in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in cells[2:])
    notes = [html.escape(ln) for ln in lines if ln and not ln.startswith("|")]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" + "".join(
        f"<p>{n}</p>" for n in notes
    )


def to_html(c: Comparison) -> str:
    """One self-contained page: tables, the anytime plot with bands, final values."""
    curves = c.curves()
    finals = {o: [c.value(v) for v in row] for o, row in zip(c.optimizers, c.finals(), strict=True)}
    figures = [
        anytime_figure(
            anytime_bands(curves, c.grid()),
            f"Best {c.metric.name} so far (mean over {len(c.seeds)} seeds, 95 % band)",
            c.metric.name,
            x_label=c.unit if c.unit == "trials" else f"{c.unit} spent",
        ),
        finals_figure(finals, f"Final {c.metric.name} per seed", c.metric.name),
    ]
    parts = figures_html(figures)
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Comparison on {html.escape(c.target)}</title><style>{style}</style></head><body>"
        f"<h1>Comparison on {html.escape(c.target)}</h1>"
        f"<p>Metric <code>{html.escape(c.metric.name)}</code> ({c.metric.goal}); studies in "
        f"<code>{html.escape(c.storage)}</code>.</p>"
        f"<h2>Summary</h2>{_table_html(_summary_lines(c))}"
        f"<h2>Anytime</h2>{parts[0]}<h2>Final values</h2>{parts[1]}"
        f"<h2>Pairwise tests</h2>{_table_html(_tests_lines(c))}"
        "</body></html>"
    )


def write_outputs(c: Comparison, directory: str | Path) -> list[Path]:
    """``comparison.md``, ``comparison.html`` and ``comparison.json`` in ``directory``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "comparison.md", folder / "comparison.html", folder / "comparison.json"]
    paths[0].write_text(to_markdown(c) + "\n", encoding="utf-8")
    paths[1].write_text(to_html(c), encoding="utf-8")
    paths[2].write_text(json.dumps(c.to_json(), indent=1, allow_nan=True) + "\n", encoding="utf-8")
    return paths
