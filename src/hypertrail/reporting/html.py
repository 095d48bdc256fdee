"""A report drawn: one HTML page, self-contained, from :mod:`hypertrail.reporting.data`.

Figures are plotly.js specs (plain dicts) built from each section's numbers, so the
page needs no Python plotly at view time and nothing from the network: plotly.js is
inlined once (``hypertrail report``) or served beside the page (the dashboard).
Every section is a ``<section id="s-ID">`` with its tables and figure holders; the
page marks ``<body data-ready="1">`` once every figure is drawn (the browser test
waits for it) and collects script errors in ``window.hypertrailErrors``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hypertrail.reporting.data import Report, Section
from hypertrail.reporting.plots import PALETTE

__all__ = ["plotly_js", "render"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222}
header{background:#1f2937;color:#fff;padding:12px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;color:#cbd5e1;font-size:13px}
nav{padding:8px 24px;background:#f3f4f6;font-size:13px;position:sticky;top:0;z-index:5}
nav a{margin-right:12px;color:#1d4ed8;text-decoration:none}
main{padding:0 24px 40px;max-width:1200px}
section{border-bottom:1px solid #e5e7eb;padding:12px 0}
h2{font-size:17px;margin:8px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb} td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:13px} .empty{color:#888;font-style:italic}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:8px}
.fig{min-height:320px} code{font-size:12px}
"""


def plotly_js() -> str:
    """The plotly.js bundle the Python package ships (no network)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _g(value: Any, digits: int = 6) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else str(value)
    return str(value)


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.2f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.2f} h"


def _bytes(value: float | None) -> str:
    return "–" if value is None else f"{value / 2**20:.1f} MiB"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: frozenset[int] = frozenset()
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    if not any(headers):  # a key/value table: no header row
        head = ""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


class _Page:
    """Collects figure specs while sections are written."""

    def __init__(self) -> None:
        self.figures: list[tuple[str, dict[str, Any]]] = []

    def figure(
        self, section: str, traces: list[dict[str, Any]], layout: dict[str, Any], wide: bool = True
    ) -> str:
        div = f"fig-{section}-{len(self.figures)}"
        base: dict[str, Any] = {
            "template": None,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
            "height": 420 if wide else 320,
            "paper_bgcolor": "#fff",
            "plot_bgcolor": "#fff",
            "xaxis": {"gridcolor": "#eee"},
            "yaxis": {"gridcolor": "#eee"},
        }
        for key, value in layout.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        self.figures.append((div, {"data": traces, "layout": base}))
        return f'<div class="fig" id="{div}" data-figure="{section}"></div>'


def _metric_title(metric: Mapping[str, Any]) -> str:
    return f"{metric['name']} ({metric['goal']})"


def _summary(s: Section, page: _Page) -> str:
    d = s.data
    c = d["counts"]
    rows: list[list[Any]] = [
        [
            "trials",
            f"{c['total']} ({c['complete']} complete, {c['failed']} failed, "
            f"{c['running']} running)",
        ],
        ["optimizer", json.dumps(d["optimizer"])],
        ["seed", d["seed"]],
        ["mode", "deterministic" if d["deterministic"] else "asynchronous"],
        ["trial time", f"{_seconds(d['wall_time'])} wall, {_seconds(d['cpu_time'])} CPU"],
        ["elapsed", _seconds(d["span"])],
    ]
    if d["important"]:
        rows.append(["most important", ", ".join(d["important"])])
    out = _table(["", ""], rows)
    best = d["best"]
    if best:
        out += f"<h3>Best trial #{best['number']}</h3><p class='note'>{_e(best['reason'])}</p>"
        out += _table(["parameter", "value"], [[k, _g(v)] for k, v in best["config"].items()])
        metric_rows = []
        for m in d["metrics"]:
            interval = (
                f"{_g(m['mean'])} [{_g(m['low'])}, {_g(m['high'])}] over {m['reruns']} reruns"
                if "mean" in m
                else ("one evaluation" if m["best"] is not None else "–")
            )
            metric_rows.append([m["name"], m["goal"], _g(m["best"]), interval])
        out += _table(["metric", "goal", "best trial", "mean [95% CI]"], metric_rows)
    return out


def _history(s: Section, page: _Page) -> str:
    d = s.data
    name = d["metric"]["name"]
    traces: list[dict[str, Any]] = [
        {
            "type": "scattergl" if len(d["trials"]) > 1000 else "scatter",
            "mode": "markers",
            "x": d["trials"],
            "y": d["values"],
            "name": "trial",
            "marker": {"size": 5, "color": "#1f77b4", "opacity": 0.6},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "color": "#d62728"},
            "x": [p[0] for p in d["best"]],
            "y": [p[1] for p in d["best"]],
            "name": "best so far",
        },
    ]
    if d["failed"]:
        top = max((v for v in d["values"] if v is not None), default=0.0)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": d["failed"],
                "y": [top] * len(d["failed"]),
                "name": "failed (drawn at the top)",
                "marker": {"symbol": "x", "color": "#7f7f7f", "size": 7},
            }
        )
    return page.figure(
        "history",
        traces,
        {"xaxis": {"title": {"text": "trial"}}, "yaxis": {"title": {"text": name}}},
    )


def _parallel(s: Section, page: _Page) -> str:
    d = s.data
    dims = [
        {
            "label": col["name"],
            "values": col["values"],
            "tickvals": col["ticks"],
            "ticktext": col["labels"],
            "range": [min(col["ticks"]), max(col["ticks"])],
        }
        for col in s.data["columns"]
    ]
    dims.append({"label": d["metric"]["name"], "values": d["values"]})
    reverse = d["metric"]["goal"] == "maximize"
    trace = {
        "type": "parcoords",
        "dimensions": dims,
        "line": {
            "color": d["values"],
            "colorscale": "Viridis",
            "reversescale": not reverse,
            "showscale": True,
            "colorbar": {"title": {"text": d["metric"]["name"]}},
        },
    }
    return page.figure("parallel", [trace], {"margin": {"l": 80, "r": 80, "t": 60, "b": 30}})


def _slices(s: Section, page: _Page) -> str:
    parts = []
    for p in s.data["params"]:
        xaxis: dict[str, Any] = {"title": {"text": p["name"]}}
        if p["log"]:
            xaxis["type"] = "log"
        if p["categories"]:
            xaxis.update(type="category", categoryorder="array", categoryarray=p["categories"])
        trace = {
            "type": "scatter",
            "mode": "markers",
            "x": p["x"],
            "y": p["y"],
            "text": [f"#{n}" for n in p["trials"]],
            "marker": {"size": 5, "opacity": 0.6, "color": "#1f77b4"},
            "name": p["name"],
        }
        parts.append(
            page.figure(
                "slices",
                [trace],
                {
                    "xaxis": xaxis,
                    "yaxis": {"title": {"text": s.data["metric"]["name"]}},
                    "showlegend": False,
                },
                wide=False,
            )
        )
    return f'<div class="grid">{"".join(parts)}</div>'


def _importance(s: Section, page: _Page) -> str:
    d = s.data
    params = list(reversed(d["params"][:15]))
    bars = {
        "type": "bar",
        "orientation": "h",
        "x": [p["share"] for p in params],
        "y": [p["name"] + (" (when active)" if p["conditional"] else "") for p in params],
        "error_x": {"type": "data", "array": [p["std"] for p in params], "visible": True},
        "marker": {"color": "#1f77b4"},
        "name": "main effect",
    }
    out = page.figure(
        "importance",
        [bars],
        {
            "title": {"text": f"share of variance ({d['method']}, {d['n_trials']} trials)"},
            "xaxis": {"title": {"text": "share"}},
            "margin": {"l": 180},
            "height": max(320, 28 * len(params) + 100),
        },
    )
    heat = d["heatmap"]
    if len(heat["params"]) > 1:
        out += page.figure(
            "importance",
            [
                {
                    "type": "heatmap",
                    "z": heat["shares"],
                    "x": heat["params"],
                    "y": heat["params"],
                    "colorscale": "Blues",
                    "colorbar": {"title": {"text": "share"}},
                }
            ],
            {
                "title": {"text": "main effects (diagonal) and pairwise interactions"},
                "margin": {"l": 140, "b": 120},
            },
        )
    if d["sensitivity"]:
        sens = list(reversed(d["sensitivity"][:15]))
        out += page.figure(
            "importance",
            [
                {
                    "type": "bar",
                    "orientation": "h",
                    "x": [x["delta"] for x in sens],
                    "y": [x["name"] for x in sens],
                    "marker": {"color": "#ff7f0e"},
                    "name": "local sensitivity",
                }
            ],
            {
                "title": {
                    "text": "best trial: largest predicted worsening when one parameter moves"
                },
                "margin": {"l": 180},
                "height": max(320, 28 * len(sens) + 100),
            },
        )
    return out


def _choices(s: Section, page: _Page) -> str:
    parts = []
    rows: list[list[Any]] = []
    for pair in s.data["pairs"]:
        traces = [
            {
                "type": "scatter",
                "mode": "markers",
                "x": g["x"],
                "y": g["y"],
                "name": f"{pair['discrete']}={g['choice']}",
                "marker": {"size": 5, "opacity": 0.65, "color": PALETTE[i % len(PALETTE)]},
            }
            for i, g in enumerate(pair["groups"])
        ]
        xaxis: dict[str, Any] = {"title": {"text": pair["numeric"]}}
        if pair["log"]:
            xaxis["type"] = "log"
        parts.append(
            page.figure(
                "choices",
                traces,
                {
                    "xaxis": xaxis,
                    "yaxis": {"title": {"text": s.data["metric"]["name"]}},
                    "title": {"text": f"{pair['numeric']} by {pair['discrete']}"},
                },
                wide=False,
            )
        )
        rows.extend(
            [
                pair["discrete"],
                g["choice"],
                pair["numeric"],
                g["n"],
                _g(g["median"], 4),
                _g(g["best_quarter_median"], 4),
            ]
            for g in pair["groups"]
        )
    table = _table(
        ["discrete", "choice", "continuous", "trials", "median", "median in best quarter"],
        rows,
        numeric=frozenset({3, 4, 5}),
    )
    return f'<div class="grid">{"".join(parts)}</div>{table}'


def _pareto(s: Section, page: _Page) -> str:
    d = s.data
    names = [m["name"] for m in d["metrics"]]
    points = d["points"]
    front = [p for p, f in zip(points, d["on_front"], strict=True) if f]
    front_trials = [n for n, f in zip(d["trials"], d["on_front"], strict=True) if f]
    if len(names) == 2:
        order = sorted(range(len(front)), key=lambda i: front[i][0])
        traces = [
            {
                "type": "scatter",
                "mode": "markers",
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "text": [f"#{n}" for n in d["trials"]],
                "name": "trials",
                "marker": {"color": "#9ca3af", "size": 5},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [front[i][0] for i in order],
                "y": [front[i][1] for i in order],
                "text": [f"#{front_trials[i]}" for i in order],
                "name": "Pareto front",
                "line": {"shape": "hv", "color": "#d62728"},
                "marker": {"color": "#d62728", "size": 8},
            },
        ]
        figure = page.figure(
            "pareto",
            traces,
            {"xaxis": {"title": {"text": names[0]}}, "yaxis": {"title": {"text": names[1]}}},
        )
    else:
        colors = ["#d62728" if f else "#9ca3af" for f in d["on_front"]]
        figure = page.figure(
            "pareto",
            [
                {
                    "type": "splom",
                    "dimensions": [
                        {"label": n, "values": [p[i] for p in points]} for i, n in enumerate(names)
                    ],
                    "text": [f"#{n}" for n in d["trials"]],
                    "marker": {"color": colors, "size": 5},
                    "diagonal": {"visible": False},
                }
            ],
            {"height": 560},
        )
    table = _table(
        ["trial", *names],
        [[f"#{n}", *(_g(v) for v in p)] for n, p in zip(front_trials, front, strict=True)][:50],
    )
    return figure + table


def _lineage(s: Section, page: _Page) -> str:
    d = s.data
    by_trial = {n["trial"]: n for n in d["nodes"]}

    def y(n: int) -> float | None:
        node = by_trial.get(n)
        return None if node is None else node["value"]

    ex: list[float | None] = []
    ey: list[float | None] = []
    for e in d["edges"]:
        if y(e["parent"]) is None or y(e["child"]) is None:
            continue
        ex += [e["parent"], e["child"], None]
        ey += [y(e["parent"]), y(e["child"]), None]
    nodes = [n for n in d["nodes"] if n["value"] is not None]
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": ex,
            "y": ey,
            "name": "parent → child",
            "line": {"color": "#9ca3af", "width": 1},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [n["trial"] for n in nodes],
            "y": [n["value"] for n in nodes],
            "text": [
                f"#{n['trial']}"
                + (f" rung {n['rung']}" if n["rung"] is not None else "")
                + f": {n['reason']}"
                for n in nodes
            ],
            "name": "trial",
            "marker": {
                "size": [6 + min(10, 2 * n["children"]) for n in nodes],
                "color": ["#ff7f0e" if n["attempts"] > 1 else "#1f77b4" for n in nodes],
            },
        },
    ]
    out = page.figure(
        "lineage",
        traces,
        {
            "xaxis": {"title": {"text": "trial"}},
            "yaxis": {"title": {"text": "value"}},
            "title": {"text": "size: children; orange: re-queued"},
        },
    )
    if d["most_children"]:
        out += _table(
            ["trial", "children"],
            [[f"#{m['trial']}", m["children"]] for m in d["most_children"]],
            numeric=frozenset({1}),
        )
    if d["stops"]:
        out += "<h3>Stopped by the scheduler</h3>" + _table(
            ["trial", "step", "value", "reason"],
            [
                [f"#{x['trial']}", _g(x["step"]), _g(x["value"]), x["reason"]]
                for x in d["stops"][:200]
            ],
        )
    if d["requeues"]:
        out += "<h3>Re-queued attempts</h3>" + _table(
            ["trial", "attempt", "reason"],
            [[f"#{r['trial']}", r["attempt"], r["reason"]] for r in d["requeues"][:100]],
        )
    return out


def _rungs(s: Section, page: _Page) -> str:
    d = s.data
    out = _table(
        ["rung", "fidelity", "trials", "complete", "went on", "best value"],
        [
            [
                r["rung"],
                _g(r["fidelity"]),
                r["trials"],
                r["complete"],
                _g(r["went_on"]),
                _g(r["best"]),
            ]
            for r in d["rungs"]
        ],
        numeric=frozenset({0, 1, 2, 3, 4, 5}),
    )
    if not d["pairs"]:
        return out
    adjacent = list(dict.fromkeys((p["low"], p["high"]) for p in d["points"]))
    traces = []
    for i, (low, high) in enumerate(adjacent):
        shown = [p for p in d["points"] if (p["low"], p["high"]) == (low, high)]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [p["x"] for p in shown],
                "y": [p["y"] for p in shown],
                "text": [f"#{p['trial']}" for p in shown],
                "name": f"rung {low} → {high}",
                "marker": {"size": 6, "color": PALETTE[i % len(PALETTE)]},
            }
        )
    if traces:
        out += page.figure(
            "rungs",
            traces,
            {
                "xaxis": {"title": {"text": "value at the lower rung"}},
                "yaxis": {"title": {"text": "value at the next rung"}},
                "title": {"text": "one point per configuration that went on"},
            },
        )
    out += "<h3>Rank agreement between rungs</h3>" + _table(
        ["rungs", "configurations at both", "Spearman ρ"],
        [
            [f"{p['low']} → {p['high']}", p["n"], "–" if p["rho"] is None else f"{p['rho']:.2f}"]
            for p in d["pairs"]
        ],
        numeric=frozenset({1, 2}),
    )
    if d["winners"]:
        out += "<h3>Where the best at the top ranked below</h3>" + _table(
            ["trial", "value", "rank at each lower rung"],
            [
                [
                    f"#{w['trial']}",
                    _g(w["value"]),
                    ", ".join(f"rung {r['rung']}: {r['rank']} of {r['of']}" for r in w["ranks"]),
                ]
                for w in d["winners"]
            ],
        )
    return out


def _budget(s: Section, page: _Page) -> str:
    d = s.data
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "stackgroup": "kinds",
            "x": d["trials"],
            "y": d["cumulative"][k],
            "name": k,
            "line": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, k in enumerate(d["kinds"])
    ]
    out = page.figure(
        "budget",
        traces,
        {
            "xaxis": {"title": {"text": "trial"}},
            "yaxis": {"title": {"text": "trials so far, by kind of proposal"}},
        },
    )
    if d["decisions"]:
        stage2 = [x for x in d["decisions"] if x["p_explore"] is not None]
        out += page.figure(
            "budget",
            [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": [x["trial"] for x in stage2],
                    "y": [x["p_explore"] for x in stage2],
                    "text": [x["arm"] for x in stage2],
                    "name": "probability of exploring",
                }
            ],
            {
                "title": {"text": "hybrid allocator: probability of exploring structures"},
                "yaxis": {"range": [0, 1], "title": {"text": "p(explore)"}},
                "xaxis": {"title": {"text": "trial"}},
            },
            wide=False,
        )
    out += _table(
        ["kind", "trials", "trial wall time", "improved the best"],
        [
            [t["kind"], t["trials"], _seconds(t["wall_time"]), t["improvements"]]
            for t in d["totals"]
        ],
        numeric=frozenset({1, 3}),
    )
    return out


def _resources(s: Section, page: _Page) -> str:
    d = s.data
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": d["trials"],
            "y": d["wall_time"],
            "name": "wall s",
            "marker": {"size": 5},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": d["trials"],
            "y": d["cpu_time"],
            "name": "CPU s",
            "marker": {"size": 5},
        },
    ]
    if any(v is not None for v in d["peak_memory"]):
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": d["trials"],
                "y": [None if v is None else v / 2**20 for v in d["peak_memory"]],
                "name": "peak MiB",
                "yaxis": "y2",
                "marker": {"size": 5, "symbol": "diamond"},
            }
        )
    out = page.figure(
        "resources",
        traces,
        {
            "xaxis": {"title": {"text": "trial"}},
            "yaxis": {"title": {"text": "seconds"}},
            "yaxis2": {"title": {"text": "MiB"}, "overlaying": "y", "side": "right"},
        },
    )
    rows: list[list[str]] = []
    for key, fmt in (("wall_time", _seconds), ("cpu_time", _seconds), ("peak_memory", _bytes)):
        q = d["summary"][key]
        if q:
            rows.append(
                [
                    key.replace("_", " "),
                    fmt(q["total"]) if key != "peak_memory" else "–",
                    fmt(q["median"]),
                    fmt(q["p95"]),
                    fmt(q["max"]),
                ]
            )
    out += _table(["", "total", "median", "95th percentile", "max"], rows)
    out += _table(
        ["host", "trials"], [[h, n] for h, n in d["hosts"].items()], numeric=frozenset({1})
    )
    return out


def _provenance(s: Section, page: _Page) -> str:
    rows = []
    for x in s.data["sessions"]:
        code = (x["commit"] or "no git")[:12] + (" + changes" if x["dirty"] else "")
        gpus = ", ".join(str(g.get("name", g)) for g in x["gpus"]) if x["gpus"] else "none"
        data = ", ".join(f"{i['path']} {str(i.get('sha256', ''))[:12]}" for i in x["data"]) or "–"
        rows.append(
            [
                x["session"][:8],
                f"{x['host']} pid {x['pid']}",
                x["python"],
                x["platform"],
                x["cpu"],
                gpus,
                f"{x['packages']} ({str(x['lock_hash'] or '')[:14]})",
                code,
                str(x["plan_hash"] or "–")[:14],
                data,
            ]
        )
    return _table(
        [
            "session",
            "where",
            "Python",
            "platform",
            "CPU",
            "GPUs",
            "packages (lock)",
            "code",
            "plan",
            "data",
        ],
        rows,
    )


def _audit(s: Section, page: _Page) -> str:
    d = s.data
    rows: list[list[Any]] = [
        ["space fingerprint", str(d["space_fingerprint"])[:24]],
        ["events", f"{d['events']} (last sequence number {d['cursor']})"],
    ]
    replay = d["replay"]
    if replay is not None:
        verdict = (
            f"{replay['identical']} of {replay['checked']} proposals re-derived identically"
            if replay["ok"]
            else f"differs first at trial #{replay['first']['trial']}: {replay['first']['detail']}"
        )
        rows.append(["replay", verdict])
    else:
        rows.append(["replay", "not run for this report"])
    out = _table(["", ""], rows)
    if d["locks"]:
        out += "<h3>Plan lock and amendments</h3>" + _table(
            ["event", "when", "plan hash", "reason", "changed"],
            [
                [
                    x["kind"],
                    datetime.fromtimestamp(x["time"] or 0, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    str(x["plan_hash"])[:16],
                    x["reason"] or "",
                    ", ".join(x["changed"] or []),
                ]
                for x in d["locks"]
            ],
        )
    if d["failed"]:
        out += "<h3>Failed trials</h3>" + _table(
            ["trial", "reason", "last line"],
            [[f"#{f['trial']}", f["reason"], f["last_line"]] for f in d["failed"][:200]],
        )
    if d["requeued"]:
        out += f"<p>{len(d['requeued'])} attempts re-queued after a lost process.</p>"
    return out


_RENDERERS: dict[str, Callable[[Section, _Page], str]] = {
    "summary": _summary,
    "history": _history,
    "parallel": _parallel,
    "slices": _slices,
    "importance": _importance,
    "choices": _choices,
    "pareto": _pareto,
    "lineage": _lineage,
    "rungs": _rungs,
    "budget": _budget,
    "resources": _resources,
    "provenance": _provenance,
    "audit": _audit,
}


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return (
        json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--")
    )


def render(
    report: Report,
    *,
    plotly: str = "inline",
    refresh: str | None = None,
    version: str | None = None,
    generated: str | None = None,
) -> str:
    """The report as one HTML page.

    Args:
        report: the numbers, from :func:`hypertrail.reporting.data.build_report`.
        plotly: ``"inline"`` to embed plotly.js (a file that opens offline), or the
            URL the page loads it from (the dashboard serves it itself).
        refresh: a URL that returns the study's latest event sequence number; the
            page polls it and reloads when it differs from ``version`` (the number the
            page was built from) or, without one, from its first answer (the dashboard).
        generated: a line saying when and from what the page was made.
    """
    page = _Page()
    nav = "".join(f'<a href="#s-{s.id}">{_e(s.title)}</a>' for s in report.sections)
    body = []
    for s in report.sections:
        note = f'<p class="note">{_e(s.note)}</p>' if s.note else ""
        content = '<p class="empty">Nothing to show.</p>' if s.empty else _RENDERERS[s.id](s, page)
        body.append(
            f'<section id="s-{s.id}" data-section="{s.id}" data-empty="{str(s.empty).lower()}">'
            f"<h2>{_e(s.title)}</h2>{note}{content}</section>"
        )
    if plotly == "inline":
        script_tag = f"<script>{plotly_js()}</script>"
    else:
        script_tag = f'<script src="{_e(plotly)}"></script>'
    figures = _script_json([{"id": div, **spec} for div, spec in page.figures])
    poll = ""
    if refresh is not None:
        poll = (
            f"let seen={_script_json(version)};"
            "setInterval(async()=>{try{const r=await fetch("
            + _script_json(refresh)
            + ");const t=await r.text();if(seen!==null&&t!==seen){location.reload();}"
            "seen=t;}catch(e){}},3000);"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hypertrail report: {_e(report.study)}</title>
<style>{_CSS}</style>
<script>window.hypertrailErrors=[];window.addEventListener("error",e=>window.hypertrailErrors.push(String(e.message)));</script>
{script_tag}
</head><body data-ready="0">
<header><h1>{_e(report.study)}</h1><p>{_e(generated or "")}</p></header>
<nav>{nav}</nav>
<main>{"".join(body)}</main>
<script>
(async()=>{{
  const figures={figures};
  for(const f of figures){{
    try{{await Plotly.newPlot(f.id,f.data,f.layout,{{responsive:true,displaylogo:false}});}}
    catch(e){{window.hypertrailErrors.push(f.id+": "+e);}}
  }}
  document.body.dataset.figures=String(figures.length);
  document.body.dataset.ready="1";
  {poll}
}})();
</script>
</body></html>
"""
