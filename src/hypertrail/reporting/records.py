"""Report sections read from the study's records rather than its values: lineage,
rungs, budget allocation, resources per trial, provenance and the audit.

Pure functions of a :class:`~hypertrail.reporting.data.StudyData`, like the rest of
the report's numbers; :func:`hypertrail.reporting.data.build_report` calls them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail.reporting.data import Section, StudyData, thin
from hypertrail.schedulers.base import config_key
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hypertrail.replay import ReplayReport

__all__ = ["audit", "budget", "lineage", "provenance", "resources", "rungs"]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def lineage(data: StudyData, max_edges: int = 1000) -> Section:
    """Parent links (mutations, transplants, promotions) and re-queued attempts."""
    links = [
        (t.parent, t.number, t.reason)
        for t in data.trials
        if t.parent is not None and 0 <= t.parent < len(data.trials)
    ]
    edges = [{"parent": p, "child": c, "reason": r} for p, c, r in links]
    children = Counter(p for p, _, _ in links)
    requeued = Counter(int(r["trial"]) for r in data.requeues if r["trial"] is not None)
    numbers = sorted({p for p, _, _ in links} | {c for _, c, _ in links} | set(requeued))
    nodes = [
        {
            "trial": n,
            "value": data.trials[n].value,
            "state": data.trials[n].state.value,
            "children": children.get(n, 0),
            "attempts": data.trials[n].attempt + 1,
            "reason": data.trials[n].reason,
            "rung": data.trials[n].rung,
        }
        for n in numbers
    ]
    most = sorted(children.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    note = ""
    if len(edges) > max_edges:
        note = f"{max_edges} of {len(edges)} parent links drawn (the latest)."
        edges = edges[-max_edges:]
    if not nodes:
        note = "No trial has a parent, none was re-queued or stopped."
    return Section(
        "lineage",
        "Lineage",
        {
            "nodes": nodes,
            "edges": edges,
            "requeues": list(data.requeues),
            "stops": list(data.stops),
            "most_children": [{"trial": n, "children": c} for n, c in most],
        },
        note=note,
        empty=not nodes,
    )


WINNERS = 5  # best configurations at the top rung whose ranks below are shown
LOOSE_RHO, LOOSE_MIN_PAIRS = 0.5, 10  # adjacent rungs the note calls out as loosely alike


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rank correlation, or ``None`` with fewer than 3 pairs or no spread."""
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    from scipy.stats import spearmanr

    rho = float(spearmanr(a, b).statistic)
    return rho if math.isfinite(rho) else None


def rungs(data: StudyData, max_points: int = 2000) -> Section:
    """How each rung of a multi-fidelity scheduler ranks configurations against the
    next rung and the top one: do the cheap results pick what the top would?

    Per rung: its fidelity, trials, complete ones and how many went on. Per pair of
    rungs: Spearman's rank correlation of the losses of the configurations complete at
    both, and those pairs as points (adjacent rungs). For the best configurations at
    the top rung: their rank among the complete trials of each lower rung, which says
    how near the winners came to being cut.
    """
    scheduled = [t for t in data.trials if t.rung is not None]
    if not scheduled:
        return Section(
            "rungs",
            "Rungs",
            {"rungs": [], "pairs": [], "points": [], "winners": []},
            note="No trial ran at a rung: the study has no multi-fidelity scheduler.",
            empty=True,
        )
    levels = sorted({t.rung for t in scheduled if t.rung is not None})
    top = levels[-1]
    # One result per (configuration, rung): the first complete trial's.
    at: dict[int, dict[str, FrozenTrial]] = {r: {} for r in levels}
    for t in scheduled:
        if t.state is TrialState.COMPLETE and t.values and t.rung is not None:
            at[t.rung].setdefault(config_key(t.config), t)
    table = []
    for i, r in enumerate(levels):
        asked = [t for t in scheduled if t.rung == r]
        nxt = levels[i + 1] if r != top else None
        went_on = sum(1 for k in at[r] if nxt is not None and k in at[nxt])
        best = min(at[r].values(), key=lambda t: (data.loss(t), t.number), default=None)
        table.append(
            {
                "rung": r,
                "fidelity": _number(asked[0].fidelity),
                "trials": len(asked),
                "complete": len(at[r]),
                "went_on": went_on if nxt is not None else None,
                "best": best.value if best is not None else None,
            }
        )
    pairs, points, loose = [], [], []
    for i, low in enumerate(levels[:-1]):
        for high in dict.fromkeys((levels[i + 1], top)):
            shared = [k for k in at[low] if k in at[high]]
            rho = _spearman(
                [data.loss(at[low][k]) for k in shared], [data.loss(at[high][k]) for k in shared]
            )
            pairs.append({"low": low, "high": high, "n": len(shared), "rho": rho})
            if high != levels[i + 1]:
                continue
            if rho is not None and rho < LOOSE_RHO and len(shared) >= LOOSE_MIN_PAIRS:
                loose.append(f"{low} → {high} (ρ {rho:.2f})")
            points += [
                {
                    "low": low,
                    "high": high,
                    "x": at[low][k].value,
                    "y": at[high][k].value,
                    "trial": at[high][k].number,
                }
                for k in shared
            ]
    drawn = len(points)
    if drawn > max_points:  # an even spread over every pair of rungs
        points = [points[int(j * drawn / max_points)] for j in range(max_points)]
    ranked = {
        r: sorted(at[r], key=lambda k: (data.loss(at[r][k]), at[r][k].number)) for r in levels
    }
    winners = []
    for key in ranked[top][:WINNERS]:
        winners.append(
            {
                "trial": at[top][key].number,
                "value": at[top][key].value,
                "ranks": [
                    {"rung": r, "rank": ranked[r].index(key) + 1, "of": len(ranked[r])}
                    for r in levels[:-1]
                    if key in at[r]
                ],
            }
        )
    note = (
        "ρ is Spearman's rank correlation over the configurations complete at both rungs: "
        "those that went on, the better share of the lower rung, so it understates how "
        "well the lower rung ranks them all. A low ρ says the cheaper rung ranks the "
        "promising configurations unlike the higher one; a larger minimum fidelity may "
        "then serve the search better."
    )
    if loose:
        note = f"Loose agreement between rungs {', '.join(loose)}. " + note
    if drawn > max_points:
        note += f" {max_points} of {drawn} points drawn (an even spread)."
    if len(levels) < 2:
        note = "Every trial ran at one rung (median stopping, say): no rungs to compare."
    return Section(
        "rungs",
        "Rungs",
        {"rungs": table, "pairs": pairs, "points": points, "winners": winners},
        note=note,
        empty=len(levels) < 2,
    )


def _kind(data: StudyData, trial: FrozenTrial) -> str:
    """How a trial was proposed, in a word: the optimizer's recorded decision when it
    has one (hybrid: sweep / explore / refine), else its reason's first word."""
    decision = data.decisions.get(trial.number, {})
    hybrid = decision.get("hybrid")
    if isinstance(hybrid, Mapping):
        return str(hybrid.get("arm") or hybrid.get("stage") or "hybrid")
    if trial.rung is not None:  # a scheduler's trial: budget by rung
        return f"rung {trial.rung} ({trial.fidelity:g})"
    words = trial.reason.replace(":", " ").split()
    return words[0] if words else "unknown"


def budget(data: StudyData) -> Section:
    kinds = [_kind(data, t) for t in data.trials]
    labels = list(dict.fromkeys(kinds))
    cumulative: dict[str, list[int]] = {k: [] for k in labels}
    running = Counter[str]()
    for kind in kinds:
        running[kind] += 1
        for k in labels:
            cumulative[k].append(running[k])
    totals = []
    for k in labels:
        members = [t for t, kk in zip(data.trials, kinds, strict=True) if kk == k]
        improved = 0
        best = math.inf
        for t in data.trials:
            loss = data.loss(t)
            if loss < best:
                best = loss
                improved += _kind(data, t) == k
        totals.append(
            {
                "kind": k,
                "trials": len(members),
                "wall_time": float(sum(t.duration or 0.0 for t in members)),
                "improvements": improved,
            }
        )
    decisions = []
    for number, extras in sorted(data.decisions.items()):
        hybrid = extras.get("hybrid")
        if isinstance(hybrid, Mapping):
            decisions.append(
                {
                    "trial": number,
                    "stage": hybrid.get("stage"),
                    "arm": hybrid.get("arm"),
                    "p_explore": _number(hybrid.get("p_explore")),
                    "structure": hybrid.get("structure"),
                }
            )
    return Section(
        "budget",
        "Budget allocation",
        {
            "trials": [t.number for t in data.trials],
            "kinds": labels,
            "cumulative": cumulative,
            "totals": totals,
            "decisions": decisions,
        },
        note="" if decisions else "Kinds are read from each proposal's reason.",
        empty=not data.trials,
    )


def _quantiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    return {
        "total": float(arr.sum()),
        "median": float(np.median(arr)),
        "p95": float(np.quantile(arr, 0.95)),
        "max": float(arr.max()),
    }


def resources(data: StudyData, max_points: int) -> Section:
    ended = [t for t in data.trials if t.state.finished]
    shown = thin(ended, data.loss, max_points) if ended else []
    return Section(
        "resources",
        "Resources per trial",
        {
            "trials": [t.number for t in shown],
            "wall_time": [t.duration for t in shown],
            "cpu_time": [t.cpu_time for t in shown],
            "peak_memory": [t.peak_memory for t in shown],
            "state": [t.state.value for t in shown],
            "hosts": dict(Counter(t.host or "unknown" for t in ended)),
            "summary": {
                "wall_time": _quantiles([t.duration for t in ended if t.duration is not None]),
                "cpu_time": _quantiles([t.cpu_time for t in ended if t.cpu_time is not None]),
                "peak_memory": _quantiles(
                    [float(t.peak_memory) for t in ended if t.peak_memory is not None]
                ),
            },
        },
        note=f"{len(shown)} of {len(ended)} trials drawn." if len(shown) < len(ended) else "",
        empty=not ended,
    )


def provenance(data: StudyData) -> Section:
    sessions = []
    for sid, info in data.state.sessions.items():
        if info.data is None:
            continue  # a session seen only through heartbeats or trial events
        env = info.data.get("environment") or {}
        git = env.get("git") or {}
        packages = env.get("packages") or {}
        sessions.append(
            {
                "session": sid,
                "host": info.host,
                "pid": info.pid,
                "started": info.started,
                "ended": info.ended,
                "python": env.get("python"),
                "platform": env.get("platform"),
                "cpu": env.get("cpu"),
                "gpus": env.get("gpus") or [],
                "packages": packages.get("count"),
                "lock_hash": packages.get("lock_hash"),
                "commit": git.get("commit"),
                "dirty": git.get("dirty"),
                "diff_hash": git.get("diff_hash"),
                "plan_hash": info.data.get("plan_hash"),
                "data": info.data.get("data") or [],
            }
        )
    distinct = {
        key: sorted({str(s[key]) for s in sessions if s[key] is not None})
        for key in ("commit", "lock_hash", "plan_hash", "python")
    }
    note = ""
    changed = [k for k, v in distinct.items() if len(v) > 1]
    if changed:
        note = "Sessions differ in " + ", ".join(changed) + "."
    if not sessions:
        note = "No session recorded its environment."
    return Section(
        "provenance",
        "Provenance",
        {"sessions": sessions, "distinct": distinct},
        note=note,
        empty=not sessions,
    )


def audit(data: StudyData, replay: ReplayReport | None) -> Section:
    failed = [
        {
            "trial": t.number,
            "reason": t.error or "",
            "last_line": (t.traceback or "").strip().splitlines()[-1] if t.traceback else "",
        }
        for t in data.trials
        if t.state is TrialState.FAILED
    ]
    locks = [
        {
            "kind": r["kind"],
            "time": r.get("time"),
            "plan_hash": r.get("plan_hash"),
            "reason": r.get("reason"),
            "changed": r.get("changed"),
        }
        for r in data.state.locks
    ]
    replay_data: dict[str, Any] | None = None
    if replay is not None:
        first = replay.first
        replay_data = {
            "checked": replay.checked,
            "identical": replay.checked - len(replay.mismatches),
            "ok": replay.ok,
            "first": None if first is None else {"trial": first.trial, "detail": first.detail},
        }
    return Section(
        "audit",
        "Audit",
        {
            "space_fingerprint": data.created.get("space_fingerprint"),
            "locks": locks,
            "replay": replay_data,
            "failed": failed,
            "requeued": list(data.requeues),
            "events": data.events,
            "cursor": data.cursor,
        },
        note="" if replay is not None else "Replay not run for this report (`hypertrail replay`).",
    )
