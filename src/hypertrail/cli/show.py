"""``hypertrail show STUDY TRIAL``: one trial's whole record and lineage."""

from __future__ import annotations

import json
from typing import Any

import click

from hypertrail.cli.common import fail, handle_errors, resolve_study

__all__ = ["show", "trial_record"]


def trial_record(study: Any, number: int) -> dict[str, Any]:
    """Everything recorded about trial ``number`` of ``study``, as JSON data: the
    trial, its events, the sessions that ran it (with their environment), its
    lineage, its reruns."""
    from hypertrail.provenance.lineage import lineage

    trials = study.trials
    if not 0 <= number < len(trials):
        fail(f"study {study.name!r} has no trial {number} (it has {len(trials)})")
    trial = trials[number]
    events = [e for e in study.storage.read(study.name) if e.trial == number]
    state = study._state
    session_ids = [e.data.get("session") for e in events if e.data.get("session")]
    sessions = {}
    for sid in dict.fromkeys(session_ids):
        info = state.sessions.get(sid)
        if info is None:
            continue
        env = (info.data or {}).get("environment", {})
        git = env.get("git") or {}
        packages = env.get("packages") or {}
        sessions[sid] = {
            "host": info.host,
            "pid": info.pid,
            "python": env.get("python"),
            "platform": env.get("platform"),
            "cpu": env.get("cpu"),
            "gpus": env.get("gpus"),
            "packages": {"count": packages.get("count"), "lock_hash": packages.get("lock_hash")},
            "git": {k: git.get(k) for k in ("commit", "branch", "dirty", "diff_hash")},
            "plan_hash": (info.data or {}).get("plan_hash"),
            "data": (info.data or {}).get("data"),
            "ended": info.ended,
        }
    family = lineage(trials, number)
    return {
        "study": study.name,
        "trial": {**trial.to_json(), "session": trial.session},
        "events": [
            {"seq": e.seq, "kind": e.kind, "time": e.time, "data": dict(e.data)} for e in events
        ],
        "sessions": sessions,
        "lineage": {
            "ancestors": [
                {"number": n, "reason": trials[n].reason, "value": trials[n].value}
                for n in family.ancestors
            ],
            "children": [
                {"number": n, "reason": trials[n].reason, "value": trials[n].value}
                for n in family.children
            ],
        },
        "reruns": state.reruns.get(number, []),
    }


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.argument("number", metavar="TRIAL", type=click.IntRange(min=0))
@click.option(
    "--storage", "-s", help="Storage URL or .db file (default: $HYPERTRAIL_STORAGE or ./STUDY.db)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@handle_errors
def show(study_name: str, number: int, storage: str | None, as_json: bool) -> None:
    """Print trial TRIAL of STUDY: configuration, result, why it was proposed, where
    and with what it ran, its events, its ancestors and children."""
    from hypertrail.study import Study

    name, url = resolve_study(study_name, storage)
    with Study.load(name, url) as study:
        record = trial_record(study, number)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    t = record["trial"]
    lines = [
        f"study {name!r}, trial {number}: {t['state']}"
        + (f" (attempt {t['attempt'] + 1})" if t["attempt"] else ""),
        f"  config     {json.dumps(t['config'])}",
        f"  values     {json.dumps(t['values'])}" if t["values"] else f"  error      {t['error']}",
        f"  reason     {t['reason']}",
        *(
            [
                f"  fidelity   {t['tags']['fidelity']['name']}={t['tags']['fidelity']['value']:g} "
                f"(rung {t['tags']['fidelity']['rung']})"
            ]
            if isinstance(t["tags"].get("fidelity"), dict)
            else []
        ),
        *(
            [
                f"  reports    {len(t['reports'])}, last at step {t['reports'][-1][0]:g}"
                + (f"; stopped at step {t['stopped']:g}" if t["stopped"] is not None else "")
            ]
            if t["reports"]
            else []
        ),
        f"  seed       {t['seed']}",
        f"  ran on     {t['host']} pid {t['pid']}"
        + (f", {t['duration']:.3f} s wall" if t["duration"] is not None else "")
        + (f", {t['cpu_time']:.3f} s CPU" if t["cpu_time"] is not None else "")
        + (f", peak {t['peak_memory'] / 2**20:.1f} MiB" if t["peak_memory"] else ""),
    ]
    for sid, s in record["sessions"].items():
        git = s["git"]
        commit = (git.get("commit") or "no git")[:12]
        dirty = (
            " + uncommitted changes " + (git.get("diff_hash") or "")[:19]
            if git.get("dirty")
            else ""
        )
        lines.append(
            f"  session    {sid}: {s['host']} pid {s['pid']}, Python {s['python']}, "
            f"{s['packages']['count']} packages ({(s['packages']['lock_hash'] or '')[:19]}), "
            f"code {commit}{dirty}"
        )
        for item in s.get("data") or []:
            lines.append(
                f"  data       {item['path']}: {item['sha256'][:19]} ({item['files']} files)"
            )
    lineage = record["lineage"]
    chain = " <- ".join(f"#{a['number']}" for a in lineage["ancestors"]) or "none"
    lines.append(f"  ancestors  {chain}")
    kids = ", ".join(f"#{c['number']}" for c in lineage["children"]) or "none"
    lines.append(f"  children   {kids}")
    if record["reruns"]:
        metric = next(iter(t["values"] or {"value": 0}))
        vals = [r["values"][metric] for r in record["reruns"] if r.get("values")]
        lines.append(f"  reruns     {len(record['reruns'])}: {', '.join(f'{v:.5g}' for v in vals)}")
    lines.append("  events")
    for e in record["events"]:
        detail = {
            k: v
            for k, v in e["data"].items()
            if k in ("reason", "attempt", "session", "step", "value", "stop")
        }
        lines.append(f"    #{e['seq']:<6} {e['kind']:<16} {json.dumps(detail)}")
    click.echo("\n".join(lines))
