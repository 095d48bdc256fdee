"""``hypertrail report STUDY`` (one HTML file) and ``hypertrail dashboard [STORAGE]``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from hypertrail.cli.common import fail, handle_errors, resolve_study, storage_url

__all__ = ["dashboard", "report"]

_IMPORTANCE = click.Choice(["auto", "fanova", "quick", "none"])
REPLAY_AUTO_LIMIT = 500  # trials: above this, a report skips replay unless asked


def _fidelity(text: str) -> float | str:
    """``--fidelity``'s value: auto, all or a number."""
    if text in ("auto", "all"):
        return text
    try:
        return float(text)
    except ValueError:
        fail(f"--fidelity must be auto, all or a number, got {text!r}")


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--storage",
    "-s",
    help="Storage URL or .db file (default: the plan's, $HYPERTRAIL_STORAGE, ./STUDY.db).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: STUDY-report.html, beside the plan when given one).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every section's numbers as JSON.",
)
@click.option(
    "--max-points",
    default=2000,
    show_default=True,
    type=click.IntRange(min=50),
    help="Points per plot at most (large studies are thinned, best trials kept).",
)
@click.option(
    "--importance",
    "method",
    type=_IMPORTANCE,
    default="auto",
    show_default=True,
    help="fanova (random forest), quick (rank correlations), auto or none.",
)
@click.option(
    "--fidelity",
    default="auto",
    show_default=True,
    help="Under a fidelity, the trials the parameter views compare: auto (the highest "
    "fidelity with enough trials), all, or a value such as 9.",
)
@click.option(
    "--replay/--no-replay",
    default=None,
    help=f"Re-derive every proposal for the audit (default: with <= {REPLAY_AUTO_LIMIT} trials).",
)
@handle_errors
def report(
    study_name: str,
    storage: str | None,
    output: Path | None,
    json_path: Path | None,
    max_points: int,
    method: str,
    fidelity: str,
    replay: bool | None,
) -> None:
    """Write one self-contained HTML report of STUDY (a name or its plan file): summary,
    history, parameters, importance, Pareto front, lineage, budget, resources,
    provenance and audit. It opens offline in any browser."""
    import json

    from hypertrail.reporting.data import analyse, build_report, rated_trials, study_data
    from hypertrail.reporting.html import render
    from hypertrail.storage.base import open_storage

    name, url = resolve_study(study_name, storage)
    started = time.perf_counter()
    log = open_storage(url)
    try:
        if name not in log.studies():
            fail(f"no study named {name!r} in {log.url}")
        events = log.read(name)
        data = study_data(events, name)
        chosen = _fidelity(fidelity)
        try:
            rated_trials(data, chosen)  # a fidelity the study has, before the slow parts
        except ValueError as exc:
            fail(f"--fidelity: {exc}")
        check = replay if replay is not None else len(data.trials) <= REPLAY_AUTO_LIMIT
        verdict = None
        if check:
            from hypertrail.replay import verify

            verdict = verify(log, name)
    finally:
        log.close()
    importance, local = (
        analyse(data, method=method, fidelity=chosen) if method != "none" else (None, [])
    )
    built = build_report(
        data,
        max_points=max_points,
        importance=importance,
        sensitivity=local,
        replay=verdict,
        fidelity=chosen,
    )
    if output is None:
        folder = (
            Path(study_name).parent if study_name.endswith((".yaml", ".yml", ".json")) else Path()
        )
        output = folder / f"{name}-report.html"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    page = render(
        built,
        generated=f"{len(data.trials)} trials from {url}, event {data.cursor}; written {stamp}",
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    if json_path is not None:
        json_path.write_text(json.dumps(built.to_json(), indent=1, default=str), encoding="utf-8")
    elapsed = time.perf_counter() - started
    size = output.stat().st_size / 2**20
    click.echo(
        f"report of {name!r} ({len(data.trials)} trials): {output} "
        f"({size:.1f} MiB, {elapsed:.1f} s)"
    )
    if verdict is not None and not verdict.ok and verdict.first is not None:
        click.echo(
            f"warning: replay differs first at trial {verdict.first.trial}: {verdict.first.detail}",
            err=True,
        )


@click.command()
@click.argument("storage", required=False)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback exposes your studies: a warning is printed.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 picks a free one).",
)
@click.option(
    "--allowed-host",
    "allowed",
    multiple=True,
    help="Another name clients may use in the Host header (e.g. this machine's name).",
)
@click.option("--importance", "method", type=_IMPORTANCE, default="auto", show_default=True)
@click.option("--max-points", default=2000, show_default=True, type=click.IntRange(min=50))
@click.option("--verbose", is_flag=True, help="Log every request.")
@handle_errors
def dashboard(
    storage: str | None,
    host: str,
    port: int,
    allowed: tuple[str, ...],
    method: str,
    max_points: int,
    verbose: bool,
) -> None:
    """Serve every study in STORAGE (a URL, a .db file or a plan; default
    $HYPERTRAIL_STORAGE) as live pages that refresh as trials land. Read-only."""
    from hypertrail.reporting.dashboard import is_loopback, serve
    from hypertrail.storage.base import open_storage

    target = storage or os.environ.get("HYPERTRAIL_STORAGE")
    if not target:
        fail("give a STORAGE (URL, .db file or plan) or set HYPERTRAIL_STORAGE")
    log = open_storage(storage_url(target))
    if not is_loopback(host):
        click.echo(
            f"warning: listening on {host}: anyone who can reach this address can read every "
            "study in this storage (there is no authentication)",
            err=True,
        )
    try:
        server = serve(
            log,
            host,
            port,
            allowed_hosts=allowed,
            max_points=max_points,
            importance=method,
            verbose=verbose,
        )
    except OSError as exc:
        log.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"dashboard of {log.url} on http://{shown}:{server.server_address[1]}/ (Ctrl-C stops)"
    )
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.close()
